package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HttpRequestHeadTest {

    private static ByteBuffer buffer(String text) {
        return ByteBuffer.wrap(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    private static HttpRequestHead parse(String head) {
        return HttpRequestHead.parse(head.getBytes(StandardCharsets.ISO_8859_1));
    }

    @Test
    void findsTheEndOfAHeadOnlyOnceItIsComplete() {
        assertEquals(-1, HttpRequestHead.endOfHead(buffer("GET / HTTP/1.1\r\nHost: x\r\n\r")));
        String two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        assertEquals(19, HttpRequestHead.endOfHead(buffer(two)));
        ByteBuffer second = buffer(two).position(19);
        assertEquals(two.length(), HttpRequestHead.endOfHead(second));
    }

    @Test
    void http11KeepsAliveUnlessToldToClose() {
        assertTrue(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n").keepAlive());
        assertFalse(parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").keepAlive());
        assertFalse(parse("GET / HTTP/1.0\r\n\r\n").keepAlive());
        assertTrue(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keepAlive());
    }

    @Test
    void readsContentLengthAndRefusesNonsense() {
        HttpRequestHead post = parse("POST / HTTP/1.1\r\ncontent-length: 12\r\n\r\n");
        assertTrue(post.valid());
        assertEquals(12, post.contentLength());
        assertTrue(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").chunked());
        assertFalse(parse("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n").valid());
        assertFalse(parse("POST / HTTP/1.1\r\nContent-Length: lots\r\n\r\n").valid());
        assertFalse(parse("GET / HTTP/1.1\r\nno colon here\r\n\r\n").valid());
        assertFalse(parse("GET /\r\n\r\n").valid());
        assertFalse(parse("GET / SPDY/3\r\n\r\n").valid());
        assertFalse(parse("helloGET / HTTP/1.1\r\n\r\n").valid(), "body bytes taken for a method");
    }
}
