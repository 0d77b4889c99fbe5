package io.shunt.agent.cni;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.shunt.agent.BoundedExchange;
import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniWire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whatever a local process writes to the agent's CNI socket, the endpoint answers with one
 * well-formed {@link CniReply} line (none only for a connection that sent nothing), the handler is
 * called only for a request that decodes and is valid for its command, a refused request reaches
 * nothing, and the endpoint keeps serving. Runs against a real Unix socket and a
 * {@link FakeCniHandler}, no kernel. Each input is one connection: its bytes, then end of stream.
 * Seeds and findings: {@code CniEndpointFuzzTestInputs/answersEveryConnectionAndRefusesWithoutEffect/}.
 */
class CniEndpointFuzzTest {
    /** The longest a reply may take; a hang fails the input instead of the build. */
    private static final long REPLY_WITHIN_MILLIS = 5_000;
    private static final FakeCniHandler handler = new FakeCniHandler();
    private static final BoundedExchange exchanges = new BoundedExchange(Duration.ofMillis(REPLY_WITHIN_MILLIS));
    private static Path dir;
    private static CniEndpoint endpoint;

    @BeforeAll
    static void start() throws IOException {
        // one line per request at INFO would flood the test output
        ((Logger) LoggerFactory.getLogger("io.shunt.agent.cni")).setLevel(Level.ERROR);
        dir = Files.createTempDirectory("shunt-cni-endpoint-fuzz");
        endpoint = CniEndpoint.start(dir.resolve("cni.sock"), handler, 4, Duration.ofSeconds(2));
    }

    @AfterAll
    static void stop() throws IOException {
        try {
            CniRequest add = CniRequest.forContainer(CniRequest.Command.ADD, "c0ffee", "/var/run/netns/cni-1", "eth0",
                    "default", "web-1", "u1", java.util.List.of());
            handler.calls.clear();
            assertEquals(CniReply.success("redirect"), CniTestClient.call(endpoint.socket(), add),
                    "the endpoint still serves a plain ADD after the fuzzing");
            assertTrue(endpoint.serving());
        } finally {
            endpoint.close(Duration.ofSeconds(2));
            exchanges.close();
            Files.deleteIfExists(dir);
        }
    }

    @FuzzTest(maxDuration = "8s")
    void answersEveryConnectionAndRefusesWithoutEffect(byte[] bytes) throws IOException {
        handler.calls.clear();

        byte[] answer = exchanges.exchange(endpoint.socket(), bytes);

        assertTrue(endpoint.serving(), "the endpoint stopped serving");
        if (bytes.length == 0) {
            assertEquals(0, answer.length, "a connection that sent nothing gets no reply");
            assertTrue(handler.calls.isEmpty());
            return;
        }
        assertTrue(answer.length > 0 && answer[answer.length - 1] == '\n'
                        && indexOf(answer, (byte) '\n') == answer.length - 1,
                () -> "the reply must be exactly one line, got: " + new String(answer));
        CniReply reply = CniWire.read(new ByteArrayInputStream(answer), CniReply.class);

        CniRequest decoded = decode(bytes);
        if (decoded == null) {
            assertFalse(reply.ok(), reply::toString);
            assertEquals(CniReply.DECODING_FAILURE, reply.code(), reply::toString);
            assertFalse(reply.msg().isBlank(), reply::toString);
            assertTrue(handler.calls.isEmpty(), "a request that does not decode reached the handler");
        } else if (handler.calls.isEmpty()) {
            assertFalse(reply.ok(), () -> "a request answered ok without the handler: " + reply);
            assertEquals(CniReply.INVALID_ENVIRONMENT, reply.code(), reply::toString);
            assertFalse(reply.msg().isBlank(), reply::toString);
        } else {
            assertEquals(1, handler.calls.size(), handler.calls::toString);
            FakeCniHandler.Call call = handler.calls.getFirst();
            assertEquals(decoded.command() == CniRequest.Command.STATUS ? null : decoded, call.request(),
                    "the handler gets the request as sent");
            assertEquals(CniReply.success("redirect"), reply, "the handler's reply goes back unchanged");
        }
    }

    /** The request as the endpoint decodes it (up to the first newline), or null when it cannot. */
    private static CniRequest decode(byte[] bytes) {
        int newline = indexOf(bytes, (byte) '\n');
        byte[] line = newline < 0 ? bytes : Arrays.copyOf(bytes, newline);
        if (line.length == 0) {
            return null;
        }
        try {
            return CniWire.read(new ByteArrayInputStream(line), CniRequest.class);
        } catch (IOException e) {
            return null;
        }
    }

    private static int indexOf(byte[] bytes, byte b) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return -1;
    }
}
