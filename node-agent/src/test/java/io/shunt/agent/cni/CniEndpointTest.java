package io.shunt.agent.cni;

import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniRequest.Command;
import io.shunt.api.cni.CniWire;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static io.shunt.agent.cni.CniTestClient.call;
import static io.shunt.agent.cni.CniTestClient.request;
import static io.shunt.agent.cni.CniTestClient.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Requests and replies over a real Unix socket, against a fake handler. */
@Timeout(60)
class CniEndpointTest {
    private static final Duration GENEROUS = Duration.ofSeconds(20);

    @TempDir
    Path dir;
    private final FakeCniHandler handler = new FakeCniHandler();
    private final ExecutorService clients = Executors.newCachedThreadPool();
    private CniEndpoint endpoint;

    private Path start(int maxConcurrent, Duration requestTimeout) throws IOException {
        endpoint = CniEndpoint.start(dir.resolve("cni.sock"), handler, maxConcurrent, requestTimeout);
        return endpoint.socket();
    }

    private Path start() throws IOException {
        return start(4, Duration.ofSeconds(10));
    }

    @AfterEach
    void stop() {
        clients.shutdownNow();
        if (endpoint != null) {
            endpoint.close(Duration.ofSeconds(2));
        }
    }

    /** The endpoint still answers a plain ADD: what every "keeps serving" test ends with. */
    private void assertStillServes(Path socket) throws IOException {
        int before = handler.calls.size();
        assertEquals(CniReply.success("redirect"), call(socket, request(Command.ADD)));
        assertEquals(before + 1, handler.calls.size());
    }

    @ParameterizedTest
    @CsvSource({"ADD, add", "DEL, delete", "CHECK, check", "STATUS, status", "GC, gc"})
    void eachCommandReachesItsMethodWithTheRequestAsSent(Command command, String method) throws IOException {
        Path socket = start();
        handler.answer = r -> CniReply.success("tproxy-" + method);
        CniRequest sent = request(command);

        CniReply reply = call(socket, sent);

        assertEquals(CniReply.success("tproxy-" + method), reply);
        assertEquals(1, handler.calls.size(), handler.calls.toString());
        FakeCniHandler.Call recorded = handler.calls.getFirst();
        assertEquals(method, recorded.method());
        assertEquals(command == Command.STATUS ? null : sent, recorded.request());
    }

    @Test
    void aFailureReplyGoesBackUnchanged() throws IOException {
        Path socket = start();
        CniReply failure = CniReply.failure(CniReply.INTERCEPTION_FAILED, "could not intercept pod default/web-1",
                "nft: table inet shunt: No such file or directory");
        handler.answer = r -> failure;
        assertEquals(failure, call(socket, request(Command.ADD)));
    }

    @ParameterizedTest
    @CsvSource({"ADD, 11", "DEL, 11", "CHECK, 11", "GC, 11", "STATUS, 50"})
    void whileNotReadyNothingReachesTheHandler(Command command, int code) throws IOException {
        Path socket = start();
        handler.ready = false;

        CniReply reply = call(socket, request(command));

        assertFalse(reply.ok());
        assertEquals(code, reply.code());
        assertEquals(CniDispatch.NOT_READY, reply.msg());
        assertTrue(handler.calls.isEmpty(), handler.calls.toString());
    }

    @Test
    void onceReadyTheSameRequestIsServed() throws IOException {
        Path socket = start();
        handler.ready = false;
        assertEquals(CniReply.TRY_AGAIN_LATER, call(socket, request(Command.ADD)).code());
        handler.ready = true;
        assertEquals(CniReply.success("redirect"), call(socket, request(Command.ADD)));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "{not json\n",
            "[1,2,3]\n",
            "null\n",
            "{}\n",
            "{\"command\":\"VERSION\",\"containerId\":\"abc\"}\n",
            "{\"command\":\"ADD\",\"ips\":\"not a list\"}\n",
            "\n",
    })
    void malformedRequestsAreDecodingFailuresAndTheEndpointKeepsServing(String raw) throws IOException {
        Path socket = start();

        CniReply reply = send(socket, raw);

        assertFalse(reply.ok());
        assertEquals(CniReply.DECODING_FAILURE, reply.code(), reply.toString());
        assertTrue(reply.msg().startsWith("malformed CNI request"), reply.msg());
        assertTrue(handler.calls.isEmpty(), handler.calls.toString());
        assertStillServes(socket);
    }

    @Test
    void aRequestCutShortByTheClientIsADecodingFailure() throws IOException {
        Path socket = start();
        try (SocketChannel channel = CniTestClient.connect(socket)) {
            channel.write(ByteBuffer.wrap("{\"command\":\"ADD\",\"contai".getBytes(StandardCharsets.UTF_8)));
            channel.shutdownOutput();
            CniReply reply = CniWire.read(java.nio.channels.Channels.newInputStream(channel), CniReply.class);
            assertEquals(CniReply.DECODING_FAILURE, reply.code(), reply.toString());
        }
        assertTrue(handler.calls.isEmpty());
        assertStillServes(socket);
    }

    @Test
    void aRequestOverTheLimitIsRefusedAndTheEndpointKeepsServing() throws IOException {
        Path socket = start();
        byte[] huge = new byte[CniWire.MAX_MESSAGE_BYTES + 100];
        java.util.Arrays.fill(huge, (byte) ' ');

        CniReply reply = send(socket, huge);

        assertEquals(CniReply.DECODING_FAILURE, reply.code(), reply.toString());
        assertTrue(reply.msg().contains("over the limit of " + CniWire.MAX_MESSAGE_BYTES), reply.msg());
        assertTrue(handler.calls.isEmpty());
        assertStillServes(socket);
    }

    @Test
    void aLargeRequestWithinTheLimitArrivesWhole() throws IOException {
        Path socket = start();
        List<String> ips = IntStream.range(0, 2000).mapToObj(i -> "10.%d.%d.1/16".formatted(i / 250, i % 250)).toList();
        CniRequest sent = CniRequest.forContainer(Command.ADD, CniTestClient.CONTAINER, "/proc/1/ns/net", "eth0",
                "default", "web-1", "", ips);

        assertEquals(CniReply.success("redirect"), call(socket, sent));
        assertEquals(sent, handler.calls.getFirst().request());
    }

    @Test
    void aRequestSentInPiecesOrEndedByEofInsteadOfANewlineIsServed() throws Exception {
        Path socket = start();
        byte[] json = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsBytes(request(Command.CHECK));
        try (SocketChannel channel = CniTestClient.connect(socket)) {
            channel.write(ByteBuffer.wrap(json, 0, 10));
            Thread.sleep(100);
            channel.write(ByteBuffer.wrap(json, 10, json.length - 10));
            channel.shutdownOutput();
            CniReply reply = CniWire.read(java.nio.channels.Channels.newInputStream(channel), CniReply.class);
            assertEquals(CniReply.success("redirect"), reply);
        }
        assertEquals(request(Command.CHECK), handler.calls.getFirst().request());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "ADD   | ''              | /var/run/netns/x | CNI_CONTAINERID is missing",
            "DEL   | ''              | ''               | CNI_CONTAINERID is missing",
            "CHECK | -leading-dash   | /var/run/netns/x | CNI_CONTAINERID is not a valid container id",
            "ADD   | 'abc\ndef'       | /var/run/netns/x | CNI_CONTAINERID is not a valid container id",
            "ADD   | abc             | ''               | CNI_NETNS is missing",
            "CHECK | abc             | var/run/netns/x  | CNI_NETNS is not an absolute path",
    })
    void requestsWithoutWhatTheirCommandNeedsNeverReachTheHandler(Command command, String containerId, String netns,
                                                                   String msg) throws IOException {
        Path socket = start();
        CniRequest sent = CniRequest.forContainer(command, containerId.replace("\\n", "\n"), netns, "eth0", "", "", "", List.of());

        CniReply reply = call(socket, sent);

        assertEquals(CniReply.INVALID_ENVIRONMENT, reply.code(), reply.toString());
        assertEquals(msg, reply.msg());
        assertTrue(handler.calls.isEmpty(), handler.calls.toString());
    }

    @Test
    void aDelWithoutNetnsIsServed() throws IOException {
        Path socket = start();
        CniRequest sent = CniRequest.forContainer(Command.DEL, "abc", "", "eth0", "", "", "", List.of());
        assertEquals(CniReply.success("redirect"), call(socket, sent));
        assertEquals(List.of(new FakeCniHandler.Call("delete", sent)), handler.calls);
    }

    @Test
    void aHandlerExceptionIsAnIoFailureWithItsMessageAndTheEndpointKeepsServing() throws IOException {
        Path socket = start();
        handler.answer = r -> {
            throw new IllegalStateException("nft exploded", new IOException("EPERM (Operation not permitted)"));
        };

        CniReply reply = call(socket, request(Command.ADD));

        assertEquals(CniReply.IO_FAILURE, reply.code());
        assertEquals("nft exploded", reply.msg());
        assertTrue(reply.details().contains("container 3f9a0c1e2d4b (pod default/web-1)"), reply.details());
        assertTrue(reply.details().contains("caused by java.io.IOException: EPERM"), reply.details());
        handler.answer = r -> CniReply.success("redirect");
        assertStillServes(socket);
    }

    @Test
    void aHandlerErrorOrNullReplyIsAnIoFailureTooAndTheEndpointKeepsServing() throws IOException {
        Path socket = start(1, Duration.ofSeconds(10));
        handler.answer = r -> {
            throw new AssertionError("a bug in the handler");
        };
        CniReply error = call(socket, request(Command.CHECK));
        assertEquals(CniReply.IO_FAILURE, error.code());
        assertEquals("a bug in the handler", error.msg());

        handler.answer = r -> null;
        CniReply none = call(socket, request(Command.CHECK));
        assertEquals(CniReply.IO_FAILURE, none.code());
        assertTrue(none.msg().contains("gave no answer to CHECK"), none.msg());

        handler.answer = r -> CniReply.success("redirect");
        assertStillServes(socket); // with maxConcurrent 1: the failures gave their permit back
    }

    @Test
    void aReplyTooLargeForTheWireLosesTheEndOfItsDetailsNotItsCode() throws IOException {
        Path socket = start();
        handler.answer = r -> CniReply.failure(CniReply.CHECK_FAILED, "rules changed", "x".repeat(200_000));

        CniReply reply = call(socket, request(Command.CHECK));

        assertEquals(CniReply.CHECK_FAILED, reply.code());
        assertEquals("rules changed", reply.msg());
        assertTrue(reply.details().endsWith("[cut]"), reply.details().substring(reply.details().length() - 20));
    }

    @Test
    void aSilentClientIsDroppedAfterTheTimeoutAndBlocksNobody() throws Exception {
        Path socket = start(1, Duration.ofMillis(300));
        try (SocketChannel silent = CniTestClient.connect(socket);
             SocketChannel halfway = CniTestClient.connect(socket)) {
            halfway.write(ByteBuffer.wrap("{\"command\":\"ADD\"".getBytes(StandardCharsets.UTF_8)));

            // served while both hold their connections, even with room for one request at a time
            assertStillServes(socket);
            assertStillServes(socket);

            for (SocketChannel dropped : List.of(silent, halfway)) {
                Future<String> answer = clients.submit(() -> CniTestClient.readToEnd(dropped));
                String text = answer.get(GENEROUS.toSeconds(), TimeUnit.SECONDS);
                assertTrue(text.contains("no complete CNI request within 300 ms"), text);
            }
        }
        assertEquals(2, handler.calls.size(), handler.calls.toString());
    }

    @Test
    void whenMaxConcurrentRequestsAreInTheHandlerTheNextIsToldBusy() throws Exception {
        Path socket = start(2, Duration.ofSeconds(10));
        CountDownLatch release = new CountDownLatch(1);
        handler.answer = r -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return CniReply.success("redirect");
        };
        List<Future<CniReply>> inFlight = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            inFlight.add(clients.submit(() -> call(socket, request(Command.ADD))));
        }
        assertTrue(handler.entered.tryAcquire(2, GENEROUS.toSeconds(), TimeUnit.SECONDS), "2 ADDs in the handler");

        CniReply busy = call(socket, request(Command.ADD));

        assertEquals(CniReply.failure(CniReply.TRY_AGAIN_LATER, CniEndpoint.BUSY, busy.details()), busy);
        assertEquals(2, handler.calls.size(), "the busy request never reached the handler");
        release.countDown();
        for (Future<CniReply> reply : inFlight) {
            assertEquals(CniReply.success("redirect"), reply.get(GENEROUS.toSeconds(), TimeUnit.SECONDS));
        }
        assertStillServes(socket);
    }

    @Test
    void aClientThatConnectsAndLeavesCostsNothing() throws IOException {
        Path socket = start(1, Duration.ofSeconds(10));
        for (int i = 0; i < 50; i++) {
            CniTestClient.connect(socket).close();
        }
        assertStillServes(socket);
        assertTrue(endpoint.serving());
    }
}
