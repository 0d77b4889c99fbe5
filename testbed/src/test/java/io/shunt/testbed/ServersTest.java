package io.shunt.testbed;

import io.shunt.ffi.netns.NetNs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The test servers and the pod client, inside a real one-pod topology. */
class ServersTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private static Topology topology;
    private static NetNs up;
    private static NetNs pod;

    @BeforeAll
    static void build() throws Exception {
        topology = Topology.create("kt", 1);
        up = topology.upstream().open();
        pod = topology.pod(0).open();
    }

    @AfterAll
    static void tearDown() throws Exception {
        Closing.inOrder(pod, up, topology);
    }

    @Test
    void httpServerAnswersThreeRequestsOnOneKeepAliveConnection() throws Exception {
        InetSocketAddress address = new InetSocketAddress(topology.serviceAddress(1), 8081);
        try (HttpServer server = HttpServer.start(up, address);
             SocketChannel client = PodClient.connect(pod, address, TIMEOUT)) {
            client.socket().setSoTimeout((int) TIMEOUT.toMillis());
            InputStream in = client.socket().getInputStream();

            // Two pipelined requests in one write (the second with a body to skip), then a third split mid-header.
            write(client, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
                    + "POST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
            write(client, "GET /3 HTTP/1.1\r\nHo");
            List<String> first = List.of(readResponse(in), readResponse(in));
            write(client, "st: t\r\n\r\n");
            String third = readResponse(in);

            for (String response : List.of(first.get(0), first.get(1), third)) {
                assertTrue(response.startsWith("HTTP/1.1 200 OK\r\n"), response);
                assertTrue(response.contains("\r\nContent-Length: 64\r\n"), response);
                assertTrue(response.endsWith("\r\n\r\n" + HttpServer.BODY), response);
            }
            assertEquals(1, server.accepted());
            assertEquals(3, server.requests());
            assertEquals(List.of((InetSocketAddress) client.getLocalAddress()), server.peers());
        }
    }

    @Test
    void httpServerClosesAfterAConnectionCloseRequest() throws Exception {
        InetSocketAddress address = new InetSocketAddress(topology.serviceAddress(1), 8082);
        try (HttpServer server = HttpServer.start(up, address);
             SocketChannel client = PodClient.connect(pod, address, TIMEOUT)) {
            client.socket().setSoTimeout((int) TIMEOUT.toMillis());
            InputStream in = client.socket().getInputStream();

            write(client, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");

            String response = readResponse(in);
            assertTrue(response.contains("\r\nConnection: close\r\n"), response);
            assertEquals(-1, in.read(), "the server should close after answering");
            assertEquals(1, server.requests());
        }
    }

    @Test
    void httpServerRejectsAMalformedRequest() throws Exception {
        InetSocketAddress address = new InetSocketAddress(topology.serviceAddress(1), 8083);
        try (HttpServer server = HttpServer.start(up, address);
             SocketChannel client = PodClient.connect(pod, address, TIMEOUT)) {
            client.socket().setSoTimeout((int) TIMEOUT.toMillis());

            write(client, "NONSENSE\r\n\r\n");

            String response = readResponse(client.socket().getInputStream());
            assertTrue(response.startsWith("HTTP/1.1 400 "), response);
            assertEquals(0, server.requests());
        }
    }

    @Test
    void echoServerCloseStopsListeningAndFreesThePort() throws Exception {
        InetSocketAddress address = new InetSocketAddress(topology.serviceAddress(2), 7000);
        EchoServer server = EchoServer.start(up, address);
        // An open connection must not keep close() from finishing.
        SocketChannel idle = PodClient.connect(pod, address, TIMEOUT);
        try (idle) {
            server.close();
            assertThrows(ConnectException.class, () -> PodClient.connect(pod, address, TIMEOUT).close());
            try (EchoServer again = EchoServer.start(up, address)) {
                assertEquals("again".length(), PodClient.exchange(pod, address, "again".getBytes()).echoedBytes().length);
                assertEquals(1, again.accepted());
            }
        } finally {
            server.close();
        }
    }

    @Test
    void exchangeGivesUpInsteadOfHangingWhenTheServerNeverGreets() throws Exception {
        // Listens but never accepts: the kernel completes the handshake, nobody ever writes.
        try (ServerSocket silent = up.run(() -> {
            ServerSocket s = new ServerSocket();
            s.bind(new InetSocketAddress(topology.serviceAddress(2), 7001));
            return s;
        })) {
            InetSocketAddress address = (InetSocketAddress) silent.getLocalSocketAddress();
            SocketTimeoutException e = assertThrows(SocketTimeoutException.class,
                    () -> PodClient.exchange(pod, address, new byte[16], Duration.ofMillis(500)));
            assertTrue(e.getMessage().contains("waiting for the hello line") && e.getMessage().contains(address.toString()),
                    e.getMessage());
        }
    }

    @Test
    void connectToAnAddressWithoutAListenerNamesBothEnds() throws Exception {
        InetSocketAddress nobody = new InetSocketAddress(topology.serviceAddress(2), 7002);
        ConnectException e = assertThrows(ConnectException.class, () -> PodClient.connect(pod, nobody, TIMEOUT));
        assertTrue(e.getMessage().contains(pod.path().toString()) && e.getMessage().contains("10.201.0.30:7002"), e.getMessage());
    }

    private static void write(SocketChannel channel, String text) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII));
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /** Reads one response: the head up to CRLFCRLF, then Content-Length body bytes. */
    private static String readResponse(InputStream in) throws IOException {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        while (!raw.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed inside a response head: " + raw.toString(StandardCharsets.US_ASCII));
            }
            raw.write(b);
        }
        String head = raw.toString(StandardCharsets.US_ASCII);
        int length = head.lines().filter(l -> l.toLowerCase().startsWith("content-length:"))
                .map(l -> Integer.parseInt(l.substring(l.indexOf(':') + 1).strip())).findFirst().orElse(0);
        byte[] body = in.readNBytes(length);
        if (body.length != length) {
            throw new IOException("connection closed inside a response body after " + body.length + " of " + length + " bytes");
        }
        return head + new String(body, StandardCharsets.US_ASCII);
    }
}
