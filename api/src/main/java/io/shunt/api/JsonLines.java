package io.shunt.api;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The framing of Shunt's local sockets: one JSON object and a newline each way. Every message is
 * bounded, so a hostile or broken peer cannot make either side buffer without limit.
 */
public final class JsonLines {
    private JsonLines() {
    }

    public static void write(OutputStream out, ObjectMapper json, Object message, int maxBytes) throws IOException {
        byte[] bytes = json.writeValueAsBytes(message);
        if (bytes.length >= maxBytes) {
            throw new IOException("message of " + bytes.length + " bytes is over the limit of " + maxBytes);
        }
        out.write(bytes);
        out.write('\n');
        out.flush();
    }

    /**
     * Reads one message, up to the newline or the end of the stream.
     *
     * @return the message, never null
     * @throws IOException for an empty, oversized or malformed message, naming the problem
     */
    public static <T> T read(InputStream in, ObjectMapper json, Class<T> type, int maxBytes) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream(512);
        for (int b; (b = in.read()) != -1 && b != '\n'; ) {
            if (line.size() >= maxBytes) {
                throw new IOException("message over the limit of " + maxBytes + " bytes");
            }
            line.write(b);
        }
        if (line.size() == 0) {
            throw new IOException("the peer closed the connection without sending a message");
        }
        T message = json.readValue(line.toString(StandardCharsets.UTF_8), type);
        if (message == null) {
            // readValue maps the JSON literal null to a null message; every caller expects a message
            throw new IOException("the message is JSON null, not a " + type.getSimpleName() + " object");
        }
        return message;
    }
}
