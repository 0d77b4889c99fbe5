package io.shunt.testbed;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The little of an HTTP/1.x request head the test server needs: whether it is well-formed, how
 * many body bytes follow, and whether the connection stays open afterwards.
 *
 * @param valid         request line and headers parse
 * @param contentLength body bytes that follow the head (to be skipped)
 * @param chunked       a Transfer-Encoding other than identity, which this server does not decode
 * @param keepAlive     the connection stays open after the response (HTTP/1.1 default, 1.0 opt-in)
 */
record HttpRequestHead(boolean valid, long contentLength, boolean chunked, boolean keepAlive) {
    private static final HttpRequestHead INVALID = new HttpRequestHead(false, 0, false, false);
    /** Every registered method is upper-case letters; anything else means we lost track of request boundaries. */
    private static final Pattern METHOD = Pattern.compile("[A-Z]{1,20}");

    /**
     * The offset just past the head's terminating CRLFCRLF, searched from {@code buffer}'s position
     * to its limit, or -1 if the head is not complete yet.
     */
    static int endOfHead(ByteBuffer buffer) {
        for (int i = buffer.position(); i + 3 < buffer.limit(); i++) {
            if (buffer.get(i) == '\r' && buffer.get(i + 1) == '\n' && buffer.get(i + 2) == '\r' && buffer.get(i + 3) == '\n') {
                return i + 4;
            }
        }
        return -1;
    }

    /** Parses a complete head (request line, headers, the blank line). */
    static HttpRequestHead parse(byte[] head) {
        String[] lines = new String(head, StandardCharsets.ISO_8859_1).split("\r\n");
        String[] requestLine = lines[0].split(" ");
        if (requestLine.length != 3 || !METHOD.matcher(requestLine[0]).matches() || !requestLine[2].startsWith("HTTP/1.")) {
            return INVALID;
        }
        boolean http10 = requestLine[2].equals("HTTP/1.0");
        long contentLength = 0;
        boolean chunked = false;
        String connection = "";
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            if (line.isEmpty()) {
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                return INVALID;
            }
            String name = line.substring(0, colon).strip().toLowerCase(Locale.ROOT);
            String value = line.substring(colon + 1).strip();
            switch (name) {
                case "content-length" -> {
                    try {
                        contentLength = Long.parseLong(value);
                    } catch (NumberFormatException e) {
                        return INVALID;
                    }
                    if (contentLength < 0) {
                        return INVALID;
                    }
                }
                case "transfer-encoding" -> chunked = !value.equalsIgnoreCase("identity");
                case "connection" -> connection = value.toLowerCase(Locale.ROOT);
                default -> {
                }
            }
        }
        boolean keepAlive = http10 ? connection.contains("keep-alive") : !connection.contains("close");
        return new HttpRequestHead(true, contentLength, chunked, keepAlive);
    }
}
