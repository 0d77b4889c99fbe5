package io.shunt.api.cni;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shunt.api.JsonLines;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * The framing between the plugin and the agent on the agent's CNI Unix socket: the client sends
 * one JSON object and a newline, the server answers with one JSON object and a newline, then
 * closes. Messages are bounded so a hostile or broken peer cannot make either side buffer without
 * limit.
 */
public final class CniWire {
    /** Default path of the agent's CNI socket; the plugin reads its own from the conflist entry. */
    public static final String DEFAULT_SOCKET = "/run/shunt/cni.sock";
    public static final int MAX_MESSAGE_BYTES = 64 * 1024;

    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private CniWire() {
    }

    public static void write(OutputStream out, Object message) throws IOException {
        JsonLines.write(out, JSON, message, MAX_MESSAGE_BYTES);
    }

    /** Reads one message, up to the newline or the end of the stream. */
    public static <T> T read(InputStream in, Class<T> type) throws IOException {
        return JsonLines.read(in, JSON, type, MAX_MESSAGE_BYTES);
    }
}
