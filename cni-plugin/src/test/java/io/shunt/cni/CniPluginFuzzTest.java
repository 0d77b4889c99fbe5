package io.shunt.cni;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniWire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole plugin, as a runtime runs it, with whatever stdin and CNI_* environment: it never
 * throws, and prints either its result (or nothing) with status 0, or one CNI error object
 * ({@code cniVersion}, {@code code}, {@code msg}, {@code details}) with status 1, and nothing
 * else on stdout; no exception of its own shows up as error 999. {@link CniArgs#parse} and
 * {@link PluginConfig#from} each return a value or a {@link CniError} with a message.
 *
 * <p>An input is the environment as {@code KEY=VALUE} lines, an empty line, then stdin. In stdin,
 * {@code @AGENT@} stands for the socket of a stand-in agent that answers every request with the
 * reply given as {@code FAKE_REPLY=<CniReply JSON>} among the lines (default: success). Inputs
 * whose agent socket is some other existing file are skipped: the plugin must only ever talk to the
 * stand-in. Seeds and findings: {@code CniPluginFuzzTestInputs/printsAResultOrOneErrorObject/}.
 */
class CniPluginFuzzTest {
    private static final String AGENT = "@AGENT@";
    private static final String FAKE_REPLY = "FAKE_REPLY";

    private static Path dir;
    private static StandInAgent agent;

    @BeforeAll
    static void startAgent() throws IOException {
        dir = Files.createTempDirectory("shunt-cni-fuzz");
        agent = new StandInAgent(dir.resolve("agent.sock"));
    }

    @AfterAll
    static void stopAgent() throws IOException {
        agent.close();
        Files.deleteIfExists(dir);
    }

    @FuzzTest(maxDuration = "10s")
    void printsAResultOrOneErrorObject(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        int split = text.indexOf("\n\n");
        Map<String, String> env = env(split < 0 ? text : text.substring(0, split));
        byte[] stdin = split < 0 ? new byte[0]
                : text.substring(split + 2).replace(AGENT, agent.socket.toString()).getBytes(StandardCharsets.UTF_8);
        agent.reply = reply(env.remove(FAKE_REPLY));

        argsParseOrSayWhy(env.get("CNI_ARGS"));
        ObjectNode config = configParsesOrSaysWhy(stdin);
        if (config != null && talksToAnotherAgent(config)) {
            return;
        }

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = CniPlugin.run(env, new ByteArrayInputStream(stdin),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));

        String stdout = out.toString(StandardCharsets.UTF_8);
        String command = env.getOrDefault("CNI_COMMAND", "");
        if (exit == 0) {
            assertSuccess(command, stdout, config);
        } else {
            assertError(exit, stdout, err.toString(StandardCharsets.UTF_8));
        }
    }

    private static void assertSuccess(String command, String stdout, ObjectNode config) {
        if (stdout.isEmpty()) {
            assertTrue(List.of("DEL", "CHECK", "STATUS", "GC").contains(command),
                    () -> command + " succeeded without a result");
            return;
        }
        JsonNode result = oneJsonObject(stdout);
        switch (command) {
            case "VERSION" -> {
                assertTrue(CniVersions.supported(result.path("cniVersion").asText()), result::toString);
                assertTrue(result.path("supportedVersions").isArray(), result::toString);
            }
            case "ADD" -> assertEquals(config.path("cniVersion").asText(), result.path("cniVersion").asText(),
                    "the ADD result is prevResult in the configuration's version");
            default -> throw new AssertionError(command + " printed a result: " + stdout);
        }
    }

    private static void assertError(int exit, String stdout, String stderr) {
        assertEquals(1, exit, "the exit status of a failed command");
        JsonNode error = oneJsonObject(stdout);
        assertTrue(error.path("code").isIntegralNumber(), () -> "an error without a numeric code: " + error);
        // 999 also stands for an agent that refused without a code; an exception in the plugin reads like this
        String msg = error.path("msg").asText();
        assertFalse(error.path("code").asInt() == CniPlugin.PLUGIN_FAILED
                        && msg.startsWith("shunt-cni failed unexpectedly") && !msg.equals(agent.reply.msg()),
                () -> "the plugin threw: " + msg + "\n" + error.path("details").asText());
        assertTrue(error.path("msg").isTextual() && !msg.isBlank(), () -> "an error without a msg: " + error);
        assertTrue(error.path("cniVersion").isTextual(), () -> "an error without its cniVersion: " + error);
        assertTrue(error.path("details").isTextual(), () -> "an error without details: " + error);
        assertFalse(stderr.isBlank(), "an error is also logged on stderr");
    }

    /** stdout must be one line holding one JSON object, and nothing else. */
    private static JsonNode oneJsonObject(String stdout) {
        assertTrue(stdout.endsWith("\n") && stdout.indexOf('\n') == stdout.length() - 1,
                () -> "stdout must be exactly one line:\n" + stdout);
        try {
            JsonNode node = Json.MAPPER.readTree(stdout);
            assertTrue(node.isObject(), () -> "stdout is not a JSON object: " + stdout);
            return node;
        } catch (IOException e) {
            throw new AssertionError("stdout is not JSON: " + stdout, e);
        }
    }

    private static void argsParseOrSayWhy(String raw) {
        try {
            assertNotNull(CniArgs.parse(raw));
        } catch (CniError e) {
            assertEquals(CniError.INVALID_ENVIRONMENT, e.code(), e::msg);
            assertFalse(e.msg() == null || e.msg().isBlank(), () -> "CNI_ARGS refused without a message: " + raw);
        }
    }

    /** The configuration as the plugin reads it, or null when it is no JSON object or not usable. */
    private static ObjectNode configParsesOrSaysWhy(byte[] stdin) {
        ObjectNode json;
        try {
            json = Json.parseObject(stdin);
        } catch (CniError e) {
            assertFalse(e.msg() == null || e.msg().isBlank(), "stdin refused without a message");
            return null;
        }
        try {
            assertNotNull(PluginConfig.from(json));
        } catch (CniError e) {
            assertFalse(e.msg() == null || e.msg().isBlank(), () -> "configuration refused without a message: " + json);
        }
        return json;
    }

    /** Whether the plugin would connect to an existing socket other than the stand-in, e.g. a real agent's. */
    private static boolean talksToAnotherAgent(ObjectNode config) {
        JsonNode socket = config.get("agentSocket");
        String path = socket == null || socket.isNull() ? CniWire.DEFAULT_SOCKET : socket.asText();
        try {
            Path target = Path.of(path);
            return !target.equals(agent.socket) && Files.exists(target);
        } catch (InvalidPathException e) {
            return false; // the plugin must refuse it as well
        }
    }

    private static Map<String, String> env(String lines) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String line : lines.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                env.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return env;
    }

    private static CniReply reply(String json) {
        if (json == null) {
            return CniReply.success("redirect");
        }
        try {
            return CniWire.read(new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)), CniReply.class);
        } catch (IOException e) {
            return CniReply.success("redirect");
        }
    }

    /** Answers each request with {@link #reply}, one connection at a time, and keeps nothing. */
    private static final class StandInAgent implements AutoCloseable {
        final Path socket;
        private final ServerSocketChannel server;
        private final Thread thread;
        volatile CniReply reply = CniReply.success("redirect");

        StandInAgent(Path socket) throws IOException {
            this.socket = socket;
            this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
            this.thread = Thread.ofPlatform().daemon().name("stand-in-agent").start(this::serve);
        }

        private void serve() {
            while (server.isOpen()) {
                try (SocketChannel client = server.accept()) {
                    CniWire.read(Channels.newInputStream(client), CniRequest.class);
                    CniWire.write(Channels.newOutputStream(client), reply);
                } catch (IOException e) {
                    if (!server.isOpen()) {
                        return;
                    }
                    // a request the plugin broke off: the next one comes on a new connection
                }
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Files.deleteIfExists(socket);
        }
    }
}
