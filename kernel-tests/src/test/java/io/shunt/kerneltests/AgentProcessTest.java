package io.shunt.kerneltests;

import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.testbed.AgentProcess;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.concurrent.TimeUnit;

import static io.shunt.kerneltests.KernelTestSupport.closeQuietly;
import static io.shunt.kerneltests.KernelTestSupport.rules;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The real {@code shunt-agent} process, run as an operator runs it: it intercepts, it cleans up on
 * SIGTERM with exit code 0, and bad input makes it exit with the documented code, a message that
 * says what is wrong, and nothing installed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AgentProcessTest {
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration EXIT_TIMEOUT = Duration.ofSeconds(60);
    private static final int SERVICE_PORT = 8080;

    private Topology topology;
    private PodNs podA;
    private NetNs nsA;
    private InetSocketAddress service;
    private EchoServer serviceServer;
    private String podArg;

    @BeforeAll
    void buildTopology() throws IOException {
        topology = Topology.create("ktproc", 1);
        podA = topology.pod(0);
        nsA = podA.open();
        podArg = "pod-a=" + podA.netnsPath();
        try (NetNs up = topology.upstream().open()) {
            service = new InetSocketAddress(topology.serviceAddress(0), SERVICE_PORT);
            serviceServer = EchoServer.start(up, service);
        }
    }

    @AfterAll
    void tearDown() throws IOException {
        try {
            closeQuietly(serviceServer);
            closeQuietly(nsA);
        } finally {
            if (topology != null) {
                topology.close();
            }
        }
    }

    @BeforeEach
    void podAStartsClean() throws IOException {
        assertEquals("", rules(podA), "pod-a must start without rules");
    }

    @AfterEach
    void podAEndsClean() throws IOException {
        String left = rules(podA);
        if (!left.isEmpty()) {
            // Our own pod namespace: clear it so that one failure does not cascade into the next tests.
            Topology.exec(podA.netnsName(), "nft", "flush", "ruleset");
        }
        assertEquals("", left, "pod-a must end without rules");
    }

    @Test
    void theAgentInterceptsLogsConnectionsAndCleansUpOnSigterm() throws Exception {
        AgentProcess agent = AgentProcess.start(List.of("--pod", podArg, "--log-connections"), null, READY_TIMEOUT);
        try {
            // the default ranking: tc (its egress filter) where the kernel has it, else an nft table
            String filters = Topology.exec(podA.netnsName(), "tc", "filter", "show", "dev", "eth0", "egress");
            assertTrue(rules(podA).contains("table inet shunt") || filters.contains("shunt_eth_egres"),
                    rules(podA) + "\n" + filters);
            byte[] payload = "through the agent process".getBytes(StandardCharsets.US_ASCII);

            PodClient.Exchange exchange = PodClient.exchange(nsA, service, payload);

            assertArrayEquals(payload, exchange.echoedBytes());
            assertEquals(podA.address(), serviceServer.peers().getLast().getAddress());
            String line = agent.nextConnection(Duration.ofSeconds(10));
            assertNotNull(line, "no connection line within 10 s; output:\n" + String.join("\n", agent.output()));
            String target = service.getAddress().getHostAddress() + ":" + service.getPort();
            // The technique the agent chose for pod-a, as its ready line reports it.
            String ready = agent.output().stream().filter(l -> l.startsWith("shunt-agent ready")).findFirst().orElseThrow();
            Matcher chosen = Pattern.compile("pod-a=(\\w+)").matcher(ready);
            assertTrue(chosen.find(), ready);
            for (String expected : List.of("pod=pod-a", "technique=" + chosen.group(1), "direction=outbound",
                    "original_dst=" + target, "bytes_from_client=" + payload.length, "outcome=relayed")) {
                assertTrue(line.contains(expected), "'" + expected + "' missing in: " + line);
            }
        } finally {
            int exit = agent.stop(Duration.ofSeconds(30));
            assertEquals(0, exit, "exit code after SIGTERM; output:\n" + String.join("\n", agent.output()));
        }
        assertEquals("", rules(podA), "SIGTERM removes every rule");
        byte[] direct = "direct".getBytes(StandardCharsets.US_ASCII);
        assertArrayEquals(direct, PodClient.exchange(nsA, service, direct).echoedBytes());
    }

    @Test
    void jsonLogsAreOneObjectPerLineWithPodAndTechniqueAsFields() throws Exception {
        AgentProcess agent = AgentProcess.start(List.of("--pod", podArg, "--log-format", "json", "--log-connections"),
                null, READY_TIMEOUT);
        try {
            PodClient.exchange(nsA, service, "json".getBytes(StandardCharsets.US_ASCII));
            assertTrue(KernelTestSupport.await(Duration.ofSeconds(10),
                    () -> agent.output().stream().anyMatch(l -> l.contains("connection direction="))));
        } finally {
            assertEquals(0, agent.stop(Duration.ofSeconds(30)));
        }
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        List<com.fasterxml.jackson.databind.JsonNode> events = new java.util.ArrayList<>();
        for (String line : agent.output()) {
            if (line.startsWith("shunt-agent ready")) {
                continue; // the one line for humans and scripts on stdout
            }
            events.add(json.readTree(line)); // every other line must be one JSON object
        }
        for (String message : List.of("intercepted: ", "connection direction=outbound", "released: ")) {
            com.fasterxml.jackson.databind.JsonNode event = events.stream()
                    .filter(e -> e.path("formattedMessage").asText().startsWith(message)).findFirst()
                    .orElseThrow(() -> new AssertionError("no event '" + message + "' in " + agent.output()));
            String fields = event.path("kvpList").toString();
            assertTrue(fields.contains("{\"pod\":\"pod-a\"}") && fields.contains("\"technique\":"), event.toString());
        }
    }

    @Test
    void aMissingNetnsExitsOneNamingThePath() throws IOException {
        Path missing = Path.of("/var/run/netns/does-not-exist");
        assertFalse(Files.exists(missing), missing + " must not exist for this test");
        Result r = run("--pod", "x=" + missing);
        r.assertExit(1);
        r.assertOutputContains(missing.toString());
    }

    @Test
    void aFailingPodReleasesThePodsInterceptedBeforeIt() throws IOException {
        Path missing = Path.of("/var/run/netns/does-not-exist");
        assertFalse(Files.exists(missing), missing + " must not exist for this test");
        Result r = run("--pod", podArg, "--pod", "x=" + missing);
        r.assertExit(1);
        r.assertOutputContains(missing.toString());
        assertEquals("", rules(podA), "pod-a, intercepted before the failing pod, must be released again; output:\n"
                + r.output());
    }

    @Test
    void aCidrWithHostBitsExitsTwo() throws IOException {
        Result r = run("--pod", podArg, "--exclude-cidr", "10.0.0.1/8");
        r.assertExit(2);
        r.assertOutputContains("host bits");
        r.assertOutputContains("10.0.0.0/8");
    }

    @Test
    void anOutOfRangePortExitsTwo() throws IOException {
        Result r = run("--pod", podArg, "--exclude-port", "70000");
        r.assertExit(2);
        r.assertOutputContains("70000");
    }

    @Test
    void anUnknownTechniqueExitsTwoNamingTheKnownOnes() throws IOException {
        Result r = run("--pod", podArg, "--technique", "nosuch");
        r.assertExit(2);
        r.assertOutputContains("nosuch");
        r.assertOutputContains("redirect");
    }

    @Test
    void aListenerPortInUseExitsOneAndInstallsNothing() throws IOException {
        // Created inside pod-a by open(); bound there to the outbound listener's address.
        try (ServerSocketChannel squatter = nsA.run(() -> ServerSocketChannel.open(StandardProtocolFamily.INET))) {
            squatter.bind(new InetSocketAddress("127.0.0.1", CapturePolicy.DEFAULT_OUTBOUND_PORT));
            Result r = run("--pod", podArg);
            r.assertExit(1);
            r.assertOutputContains("in use");
            assertEquals("", rules(podA), "no rules for a pod whose listener could not open");
        }
    }

    // ----------------------------------------------------------------------------------------------

    private record Result(List<String> args, int exit, String output) {
        void assertExit(int expected) {
            assertEquals(expected, exit, "exit code of shunt-agent " + args + "; output:\n" + output);
        }

        void assertOutputContains(String text) {
            assertTrue(output.contains(text), "'" + text + "' missing in the output of shunt-agent " + args + ":\n" + output);
        }
    }

    /** Runs the agent the way {@link AgentProcess} does and waits (bounded) for it to exit by itself. */
    private static Result run(String... args) throws IOException {
        Process p = new ProcessBuilder(AgentProcess.command(List.of(args))).redirectErrorStream(true).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread pump = Thread.ofPlatform().daemon().name("agent-output").start(() -> {
            try (InputStream in = p.getInputStream()) {
                in.transferTo(out);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        try {
            if (!p.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                // SIGTERM first: a running agent removes its rules on it.
                p.destroy();
                if (!p.waitFor(20, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
                pump.join(Duration.ofSeconds(5));
                fail("shunt-agent " + List.of(args) + " was still running after " + EXIT_TIMEOUT.toSeconds()
                        + " s; it should have exited on its own. Output:\n" + out.toString(StandardCharsets.UTF_8));
            }
            pump.join(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for shunt-agent", e);
        }
        return new Result(List.of(args), p.exitValue(), out.toString(StandardCharsets.UTF_8));
    }
}
