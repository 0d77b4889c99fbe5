package io.shunt.kerneltests;

import com.fasterxml.jackson.databind.JsonNode;
import io.shunt.ffi.netns.NetNs;
import io.shunt.testbed.AgentProcess;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static io.shunt.kerneltests.KernelTestSupport.closeQuietly;
import static io.shunt.kerneltests.KernelTestSupport.rules;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every shuntctl subcommand against a real agent process intercepting two pods, pod-a with
 * tproxy and pod-b with redirect, in table and JSON output; bad input; and last, uninstall
 * --verify. shuntctl runs in this JVM (same code as the CLI, without a JVM start per call).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ShuntctlTest {
    private static final int SERVICE_PORT = 8080;

    private Topology topology;
    private PodNs podA;
    private PodNs podB;
    private EchoServer service;
    private InetSocketAddress serviceAddress;
    private Path dir;
    private Path socket;
    private AgentProcess agent;

    @BeforeAll
    void agentWithTwoPods() throws IOException {
        topology = Topology.create("ktctl", 2);
        podA = topology.pod(0);
        podB = topology.pod(1);
        try (NetNs up = topology.upstream().open()) {
            serviceAddress = new InetSocketAddress(topology.serviceAddress(0), SERVICE_PORT);
            service = EchoServer.start(up, serviceAddress);
        }
        dir = Files.createTempDirectory("shunt-ktctl");
        socket = dir.resolve("admin.sock");
        agent = AgentProcess.start(List.of("--pod", "pod-a=" + podA.netnsPath(), "--pod", "pod-b=" + podB.netnsPath(),
                "--pod-technique", "pod-a=tproxy", "--pod-technique", "pod-b=redirect",
                "--exclude-port", "9000", "--exclude-cidr", "10.201.0.30/32", "--admin-socket", socket.toString()),
                null, Duration.ofSeconds(60));
    }

    @AfterAll
    void tearDown() throws IOException {
        try {
            closeQuietly(service);
            if (agent != null) {
                agent.close();
            }
        } finally {
            topology.close();
            KernelTestSupport.deleteRecursively(dir);
        }
    }

    private ShuntctlRun ctl(String... args) {
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--socket";
        all[args.length + 1] = socket.toString();
        return ShuntctlRun.of(all);
    }

    @Test
    @Order(1)
    void statusProbeAndPods() throws IOException {
        ShuntctlRun status = ctl("status").assertExit(0);
        status.assertOut("ready", "tproxy > redirect", "pods:       2", "exclude:    cidr 10.201.0.30/32; port 9000");
        JsonNode json = ctl("status", "-o", "json").assertExit(0).json();
        assertTrue(json.get("ready").asBoolean());
        assertEquals(2, json.get("pods").asInt());

        ctl("probe").assertExit(0).assertOut("FEATURE", "tproxy", "TECHNIQUE", "VERDICT");
        JsonNode probe = ctl("probe", "-o", "json").assertExit(0).json();
        assertTrue(probe.get("features").valueStream().anyMatch(f -> f.get("id").asText().equals("nftables")
                && f.get("supported").asBoolean()), probe.toString());
        JsonNode local = ShuntctlRun.of("probe", "--local", "-o", "json").assertExit(0).json();
        assertEquals(probe.get("kernel"), local.get("kernel"), "--local probes this machine without an agent");
        assertEquals("tc", local.get("ranking").get(0).get("technique").asText());
        ctl("probe", "-o", "yaml").assertExit(0).assertOut("kernel: ", "features:", "- id: nftables");

        ctl("pods").assertExit(0).assertOut("POD", "pod-a", "tproxy", "pod-b", "redirect");
        JsonNode pods = ctl("pods", "-o", "json").assertExit(0).json();
        assertEquals("pod-a", pods.get(0).get("name").asText());
        assertEquals("tproxy", pods.get(0).get("technique").asText());
        assertEquals("redirect", pods.get(1).get("technique").asText());
    }

    @Test
    @Order(2)
    void rulesShowWhatTheKernelHas() {
        ctl("rules", "pod-a").assertExit(0).assertOut("# pod pod-a (tproxy)", "table inet shunt", "tproxy ip to");
        ctl("rules").assertExit(0).assertOut("# pod pod-b (redirect)", "redirect to :15001");
        ShuntctlRun unknown = ctl("rules", "nope").assertExit(3);
        unknown.assertErrLine("no pod \"nope\" is intercepted on this node; intercepted: pod-a, pod-b");
    }

    @Test
    @Order(3)
    void explainsCapturedAndExcludedFlowsForBothTechniques() {
        for (String[] pod : List.of(new String[]{"pod-a", "tproxy", "meta mark set"},
                new String[]{"pod-b", "redirect", "redirect to :15001"})) {
            ctl("explain", pod[0], "10.201.0.10:8080").assertExit(0)
                    .assertOut("10.201.0.10:8080 from pod " + pod[0] + ": CAPTURED", "listener: 127.0.0.1:15001 (" + pod[1] + ")",
                            "kernel:   ", pod[2]);
            JsonNode port = ctl("explain", pod[0], "10.201.0.10:9000", "-o", "json").assertExit(0).json();
            assertFalse(port.get("captured").asBoolean(), port.toString());
            assertEquals("excludeOutboundPorts 9000", port.get("rule").asText());
            assertTrue(port.get("kernel").asText().startsWith("tcp dport 9000 return"), port.toString());
            JsonNode cidr = ctl("explain", pod[0], "10.201.0.30:8080", "-o", "json").assertExit(0).json();
            assertFalse(cidr.get("captured").asBoolean(), cidr.toString());
            assertEquals("excludeOutboundCidrs 10.201.0.30/32", cidr.get("rule").asText());
            assertTrue(cidr.get("kernel").asText().startsWith("ip daddr 10.201.0.30 return"), cidr.toString());
        }
    }

    @Test
    @Order(4)
    void excludeAddTakesEffectOnALivePodAndRemoveUndoesIt() throws IOException {
        long before = accepted("pod-b");
        exchange(podB);
        assertEquals(before + 1, accepted("pod-b"), "captured before the exclusion");

        ctl("exclude", "add", "--port", "8080").assertExit(0).assertOut("excluded port 8080 on 2 pod(s)");
        ctl("exclude", "list").assertExit(0).assertOut("port  9000", "port  8080");
        exchange(podB);
        assertEquals(before + 1, accepted("pod-b"), "bypassed after the exclusion: the proxy saw nothing");
        ctl("explain", "pod-a", "10.201.0.10:8080").assertExit(0).assertOut("BYPASSED");
        ctl("exclude", "add", "--port", "8080").assertExit(0).assertOut("excluded already; nothing changed");

        ctl("exclude", "remove", "--port", "8080").assertExit(0);
        ctl("exclude", "add", "--uid", "1337").assertExit(0).assertOut("excluded uid 1337 on 2 pod(s)");
        ctl("exclude", "list").assertExit(0).assertOut("uid   1337");
        ctl("rules", "pod-b").assertExit(0).assertOut("meta skuid 1337 return");
        ctl("exclude", "remove", "--uid", "1337").assertExit(0);
        exchange(podB);
        assertEquals(before + 2, accepted("pod-b"), "captured again after removal");
    }

    @Test
    @Order(5)
    void badInputIsOneLineANonZeroExitAndNoChange() {
        String policy = ctl("exclude", "list", "-o", "json").assertExit(0).out();
        ctl("exclude", "add", "--cidr", "10.0.0.0/33").assertExit(2).assertErrLine("shuntctl: ");
        ctl("exclude", "add", "--port", "0").assertExit(2);
        ctl("exclude", "add", "--gid", "-1").assertExit(2).assertErrLine("gid -1 is out of range");
        ctl("exclude", "remove", "--cidr", "10.9.9.0/24").assertExit(3).assertErrLine("10.9.9.0/24 is not an excluded outbound CIDR");
        ctl("explain", "ghost", "10.1.1.1:80").assertExit(3).assertErrLine("no pod \"ghost\"");
        ctl("explain", "pod-a", "db.example:5432").assertExit(2).assertErrLine("is not ADDRESS:PORT");
        ctl("explain", "pod-a").assertExit(2);
        ctl("technique", "set", "pod-a").assertExit(2);
        ctl("technique", "set", "pod-a", "warp").assertExit(2).assertErrLine("warp");
        ctl("pods", "-o", "xml").assertExit(2).assertErrLine("output format 'xml' is not one of table, json, yaml");
        ShuntctlRun.of("status", "--socket", dir.resolve("none.sock").toString()).assertExit(4)
                .assertErrLine("the shunt agent is not running");
        assertEquals(policy, ctl("exclude", "list", "-o", "json").assertExit(0).out(), "nothing changed");
    }

    @Test
    @Order(6)
    void connsShowsALiveConnectionAndStatsCountIt() throws IOException {
        try (NetNs ns = NetNs.open(podA.netnsPath()); SocketChannel open = PodClient.connect(ns, serviceAddress,
                Duration.ofSeconds(10))) {
            KernelTestSupport.await(Duration.ofSeconds(10), () -> ctl("conns", "pod-a", "-o", "json").json().size() == 1);
            JsonNode conn = ctl("conns", "pod-a", "-o", "json").assertExit(0).json().get(0);
            assertEquals("10.201.0.10:8080", conn.get("originalDestination").asText());
            assertEquals("outbound", conn.get("direction").asText());
            assertTrue(conn.get("client").asText().startsWith(podA.address().getHostAddress() + ":"), conn.toString());
            ctl("conns").assertExit(0).assertOut("ORIGINAL DESTINATION", "10.201.0.10:8080");
        }
        ctl("stats").assertExit(0).assertOut("POD", "pod-a", "pod-b", "(all)");
        JsonNode stats = ctl("stats", "-o", "json").assertExit(0).json();
        assertTrue(stats.get("total").get("accepted").asLong() >= 3, stats.toString());
    }

    @Test
    @Order(7)
    void completionScriptIsGenerated() {
        ShuntctlRun.of("generate-completion").assertExit(0).assertOut("complete -F", "shuntctl");
    }

    @Test
    @Order(8)
    void exclusionChangesKeepEstablishedConnectionsOfBothTechniquesFlowing() throws IOException {
        try (LongLived a = LongLived.open(podA, serviceAddress); LongLived b = LongLived.open(podB, serviceAddress)) {
            a.roundTrip("a before");
            b.roundTrip("b before");
            ctl("exclude", "add", "--cidr", "10.201.0.20/32").assertExit(0);
            a.roundTrip("a after add");
            b.roundTrip("b after add");
            ctl("exclude", "remove", "--cidr", "10.201.0.20/32").assertExit(0);
            a.roundTrip("a after remove");
            b.roundTrip("b after remove");
        }
    }

    @Test
    @Order(9)
    void techniqueSetMovesALivePodFromRedirectToTproxyWhileALongConnectionFlows() throws Exception {
        try (LongLived old = LongLived.open(podB, serviceAddress)) {
            old.roundTrip("under redirect");

            ctl("technique", "set", "pod-b", "tproxy").assertExit(0)
                    .assertOut("pod pod-b moved from redirect to tproxy; 1 open connection(s) kept");

            for (int i = 0; i < 20; i++) {
                old.roundTrip("still flowing " + i);
            }
            ctl("rules", "pod-b").assertExit(0).assertOut("# pod pod-b (tproxy)", "tproxy ip to");
            assertTrue(Topology.exec(podB.netnsName(), "nft", "list", "tables").contains("shunt_drain"),
                    "the NAT drain holds the redirected connection's translation");
            long before = accepted("pod-b");
            exchange(podB);
            assertEquals(before + 1, accepted("pod-b"), "a new connection is intercepted by tproxy");
            JsonNode pod = ctl("pods", "-o", "json").assertExit(0).json().get(1);
            assertEquals("tproxy", pod.get("technique").asText());

            // Away from tproxy with a connection open would reset it: refused, nothing changes.
            try (LongLived underTproxy = LongLived.open(podB, serviceAddress)) {
                underTproxy.roundTrip("under tproxy");
                ctl("technique", "set", "pod-b", "redirect").assertExit(1).assertErrLine("open connection");
                underTproxy.roundTrip("still under tproxy");
            }
            old.roundTrip("last words");
        }
        // The drain goes once the connections from before the move have ended.
        assertTrue(KernelTestSupport.await(Duration.ofSeconds(15), () -> {
            try {
                return !Topology.exec(podB.netnsName(), "nft", "list", "tables").contains("shunt_drain");
            } catch (IOException e) {
                return false;
            }
        }), "the NAT drain was not removed after the old connections ended");
        assertTrue(KernelTestSupport.await(Duration.ofSeconds(10), () -> accepted("pod-b") > 0
                && ctl("stats", "-o", "json").json().get("pods").get(1).get("active").asLong() == 0));
        ctl("technique", "set", "pod-b", "redirect").assertExit(0).assertOut("moved from tproxy to redirect");
        assertFalse(Topology.exec(podB.netnsName(), "ip", "rule").contains("0x5349"), "tproxy's routing is gone");
        exchange(podB);
        ctl("technique", "set", "pod-b", "xdp").assertExit(2).assertErrLine("xdp");
        // a technique the pod cannot use: refused with the reason, the pod stays where it was
        ctl("technique", "set", "pod-b", "sockmap").assertExit(1).assertErrLine("no cgroup is known for this pod");
        assertEquals("redirect", ctl("pods", "-o", "json").assertExit(0).json().get(1).get("technique").asText());
    }

    /** A connection to the echo service that stays open across changes, checked by exact round trips. */
    private record LongLived(SocketChannel channel, java.io.InputStream in) implements AutoCloseable {
        static LongLived open(PodNs pod, InetSocketAddress service) throws IOException {
            try (NetNs ns = NetNs.open(pod.netnsPath())) {
                SocketChannel ch = PodClient.connect(ns, service, Duration.ofSeconds(10));
                ch.socket().setSoTimeout(10_000);
                java.io.InputStream in = ch.socket().getInputStream();
                while (in.read() != '\n') {
                    // the greeting line
                }
                return new LongLived(ch, in);
            }
        }

        void roundTrip(String text) throws IOException {
            byte[] sent = text.getBytes();
            channel.write(java.nio.ByteBuffer.wrap(sent));
            byte[] got = in.readNBytes(sent.length);
            assertArrayEquals(sent, got, "the connection must keep flowing: " + text);
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    @Test
    @Order(100)
    void uninstallVerifyRemovesEverythingAndTheAgentExits() throws IOException {
        ctl("uninstall", "--verify").assertExit(0).assertOut("released 2 pod(s): pod-a, pod-b",
                "verified: nothing of Shunt remains");
        assertEquals("", rules(podA));
        assertEquals("", rules(podB));
        assertEquals(0, agent.stop(Duration.ofSeconds(30)), "the agent exits 0 after uninstall");
        agent = null;
        assertFalse(Files.exists(socket));
        byte[] direct = "direct".getBytes();
        try (NetNs ns = NetNs.open(podA.netnsPath())) {
            assertArrayEquals(direct, PodClient.exchange(ns, serviceAddress, direct).echoedBytes());
        }
    }

    private long accepted(String pod) {
        JsonNode stats = ctl("stats", "-o", "json").assertExit(0).json();
        return stats.get("pods").valueStream().filter(p -> p.get("pod").asText().equals(pod)).findFirst().orElseThrow()
                .get("accepted").asLong();
    }

    private void exchange(PodNs pod) throws IOException {
        try (NetNs ns = NetNs.open(pod.netnsPath())) {
            byte[] payload = "hello".getBytes();
            assertArrayEquals(payload, PodClient.exchange(ns, serviceAddress, payload).echoedBytes());
        }
    }
}
