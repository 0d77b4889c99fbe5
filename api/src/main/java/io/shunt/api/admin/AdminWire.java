package io.shunt.api.admin;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shunt.api.JsonLines;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The agent's admin API on a root-only Unix socket: the client sends one {@link AdminRequest},
 * the agent answers one {@link AdminReply} and closes (framing: {@link JsonLines}). Requests are
 * small; replies may list every connection of a node, so they may be larger.
 */
public final class AdminWire {
    public static final String DEFAULT_SOCKET = "/run/shunt/admin.sock";
    /** The version of the request and reply shapes; a client sends it, the agent refuses others. */
    public static final int VERSION = 1;
    public static final int MAX_REQUEST_BYTES = 64 * 1024;
    public static final int MAX_REPLY_BYTES = 32 * 1024 * 1024;

    public static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private AdminWire() {
    }

    public static void writeRequest(OutputStream out, AdminRequest request) throws IOException {
        JsonLines.write(out, JSON, request, MAX_REQUEST_BYTES);
    }

    public static AdminRequest readRequest(InputStream in) throws IOException {
        return JsonLines.read(in, JSON, AdminRequest.class, MAX_REQUEST_BYTES);
    }

    public static void writeReply(OutputStream out, AdminReply reply) throws IOException {
        JsonLines.write(out, JSON, reply, MAX_REPLY_BYTES);
    }

    public static AdminReply readReply(InputStream in) throws IOException {
        return JsonLines.read(in, JSON, AdminReply.class, MAX_REPLY_BYTES);
    }
}
