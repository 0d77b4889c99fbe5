package io.shunt.agent.admin;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.shunt.agent.BoundedExchange;
import io.shunt.api.admin.AdminReply;
import io.shunt.api.admin.AdminReply.ErrorKind;
import io.shunt.api.admin.AdminRequest;
import io.shunt.api.admin.AdminWire;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What shuntctl, or anything else that reaches the root-only admin socket, can send. An input's
 * first line picks what it feeds:
 * <ul>
 *   <li>{@code wire}: the rest goes as one connection to an {@link AdminEndpoint}, whose answer is
 *   always one well-formed {@link AdminReply} with an error kind and a message. Its
 *   {@link AdminService} has no agent (building one needs the kernel), so only the checks made
 *   before a command touches the agent are reached: a request refused as BAD_REQUEST changed
 *   nothing (touching the missing agent would have answered FAILED), and one that got as far as
 *   the agent (FAILED) was valid.</li>
 *   <li>{@code destination}: {@link DestinationParser#parse} of the rest.</li>
 *   <li>{@code exclude}: {@link Exclusion#parse} of the next line as the kind and the rest as the
 *   value; a parsed exclusion adds to a policy and removes from it again.</li>
 * </ul>
 * Each parser returns a value or throws an {@link AdminException} with a message, nothing else.
 * Seeds and findings: {@code AdminInputsFuzzTestInputs/answersOrRefusesWithoutEffect/}.
 */
class AdminInputsFuzzTest {
    private static final long REPLY_WITHIN_MILLIS = 5_000;
    private static final BoundedExchange exchanges = new BoundedExchange(Duration.ofMillis(REPLY_WITHIN_MILLIS));
    private static Path dir;
    private static AdminEndpoint endpoint;

    @BeforeAll
    static void start() throws IOException {
        // each command that reaches the missing agent logs its exception: not worth the output
        ((Logger) LoggerFactory.getLogger("io.shunt.agent.admin")).setLevel(Level.OFF);
        dir = Files.createTempDirectory("shunt-admin-fuzz");
        // generous: the endpoint's cut-off also counts its own first, slow parse under instrumentation
        endpoint = AdminEndpoint.start(dir.resolve("admin.sock"), new AdminService(null, "fuzz", null), 64,
                Duration.ofSeconds(30));
    }

    @AfterAll
    static void stop() throws IOException {
        endpoint.close();
        exchanges.close();
        Files.deleteIfExists(dir);
    }

    @FuzzTest(maxDuration = "6s")
    void answersOrRefusesWithoutEffect(byte[] input) throws IOException {
        int newline = indexOf(input, 0);
        if (newline < 0) {
            return;
        }
        byte[] rest = Arrays.copyOfRange(input, newline + 1, input.length);
        switch (new String(input, 0, newline, StandardCharsets.UTF_8)) {
            case "wire" -> wire(rest);
            case "destination" -> destination(new String(rest, StandardCharsets.UTF_8));
            case "exclude" -> {
                String text = new String(rest, StandardCharsets.UTF_8);
                int split = text.indexOf('\n');
                if (split >= 0) {
                    exclusion(text.substring(0, split), text.substring(split + 1));
                }
            }
            default -> {
                // not one of ours
            }
        }
    }

    private static void wire(byte[] bytes) throws IOException {
        byte[] answer = exchanges.exchange(endpoint.socket(), bytes);
        assertTrue(answer.length > 0 && indexOf(answer, 0) == answer.length - 1,
                () -> "the reply must be exactly one line, got: " + new String(answer, StandardCharsets.UTF_8));
        AdminReply reply = AdminWire.readReply(new ByteArrayInputStream(answer));
        assertEquals(AdminWire.VERSION, reply.version(), reply::toString);
        assertFalse(reply.ok(), () -> "ok without an agent: " + reply);
        assertNotNull(reply.kind(), reply::toString);
        assertFalse(reply.error() == null || reply.error().isBlank(), reply::toString);
        if (reply.kind() == ErrorKind.FAILED && reply.error().startsWith("the agent is busy")) {
            return; // earlier connections' threads still finishing: a well-formed answer to anything
        }

        AdminRequest request;
        try {
            request = AdminWire.readRequest(new ByteArrayInputStream(bytes));
        } catch (IOException e) {
            assertEquals(ErrorKind.BAD_REQUEST, reply.kind(), reply::toString);
            return;
        }
        if (request.version() != AdminWire.VERSION) {
            assertEquals(ErrorKind.BAD_REQUEST, reply.kind(), reply::toString);
        }
        if (reply.kind() == ErrorKind.FAILED) {
            assertTrue(valid(request), () -> "an invalid request reached the agent: " + request + " -> " + reply);
        } else {
            assertEquals(ErrorKind.BAD_REQUEST, reply.kind(), reply::toString);
        }
    }

    /** Whether the arguments a command checks before it touches the agent are valid. */
    private static boolean valid(AdminRequest request) {
        switch (request.command()) {
            case "exclude-add", "exclude-remove" -> {
                try {
                    Exclusion.parse(request.arg("kind"), request.arg("value"));
                    return true;
                } catch (AdminException e) {
                    return false;
                }
            }
            case "technique-set" -> {
                try {
                    int n = Arrays.stream(request.arg("technique").split(",")).map(String::strip)
                            .map(TechniqueId::fromId).toList().size();
                    return request.arg("pod").isEmpty() || n == 1;
                } catch (IllegalArgumentException e) {
                    return false;
                }
            }
            case "explain" -> {
                return !request.arg("pod").isEmpty();
            }
            default -> {
                return true;
            }
        }
    }

    private static void destination(String text) {
        InetSocketAddress parsed;
        try {
            parsed = DestinationParser.parse(text);
        } catch (AdminException e) {
            assertRefused(e, text);
            return;
        }
        assertNotNull(parsed.getAddress(), () -> "'" + text + "' parsed without an address");
        assertTrue(parsed.getPort() >= 1 && parsed.getPort() <= 65535, parsed::toString);
        String written = AdminService.address(parsed);
        try {
            assertEquals(parsed, DestinationParser.parse(written), () -> "'" + text + "' is shown as " + written);
        } catch (AdminException e) {
            throw new AssertionError("'" + text + "' is shown as " + written + ", which does not parse", e);
        }
    }

    private static void exclusion(String kind, String value) {
        Exclusion<?> exclusion;
        try {
            exclusion = Exclusion.parse(kind, value);
        } catch (AdminException e) {
            assertRefused(e, kind + " " + value);
            return;
        }
        CapturePolicy none = CapturePolicy.defaults();
        CapturePolicy with = exclusion.addTo(none);
        assertEquals(with, exclusion.addTo(with), "adding an entry twice changes nothing");
        try {
            assertEquals(none, exclusion.removeFrom(with), "removing the entry added restores the policy");
        } catch (AdminException e) {
            throw new AssertionError("the entry just added is not there: " + exclusion.entry(), e);
        }
        AdminException missing = assertThrows(AdminException.class, () -> exclusion.removeFrom(none));
        assertEquals(ErrorKind.NOT_FOUND, missing.kind());
    }

    private static void assertRefused(AdminException e, String input) {
        assertEquals(ErrorKind.BAD_REQUEST, e.kind(), () -> "'" + input + "': " + e.getMessage());
        assertFalse(e.getMessage() == null || e.getMessage().isBlank(), () -> "'" + input + "' refused without why");
    }

    private static int indexOf(byte[] bytes, int from) {
        for (int i = from; i < bytes.length; i++) {
            if (bytes[i] == '\n') {
                return i;
            }
        }
        return -1;
    }
}
