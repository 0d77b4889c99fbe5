package io.shunt.kerneltests;

import io.shunt.agent.AgentConfig;
import io.shunt.agent.NodeAgent;
import io.shunt.agent.PodSetupException;
import io.shunt.agent.registry.PodSpec;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.tc.TcHijacker;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import io.shunt.hijack.policy.SocketOwner;
import io.shunt.proxy.EngineConfig;
import io.shunt.proxy.PodCounters;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.ScratchCgroup;
import io.shunt.testbed.Topology;
import io.shunt.agent.registry.ManagedPod;
import io.shunt.hijack.probe.Feature;
import io.shunt.hijack.probe.KernelFeatures;
import io.shunt.hijack.probe.KernelProbe;
import io.shunt.hijack.select.Selector;
import io.shunt.hijack.select.Verdict;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The conformance suite: the same end-to-end cases against every interception technique, each
 * reported on its own. Pods live in their own network namespaces, an upstream namespace holds the
 * service addresses, the agent intercepts pod-a and pod-b with the technique under test, and pod-c
 * is left alone as the control and for the failure cases. A technique the running kernel does not
 * offer is skipped with the probe's reason; set {@code -Dshunt.conformance.assume-missing=tproxy}
 * to see that on this kernel.
 */
@ParameterizedClass(name = "{0}")
@EnumSource(TechniqueId.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConformanceTest {
    @Parameter
    TechniqueId technique;

    /** Why the kernel does not offer {@link #technique}, or null when it does. */
    private String notOffered;

    private static final int SERVICE_PORT = 8080;
    /** A user whose sockets the policy excludes; nobody else is affected. */
    private static final int EXCLUDED_UID = 4242;
    private static final int EXCLUDED_PORT = 9090;
    private static final int EXCLUDED_INBOUND_PORT = 8081;

    private Topology topology;
    private PodNs podA;
    private PodNs podB;
    private PodNs podC;
    private NetNs nsA;
    private NetNs nsB;
    private NetNs nsC;
    private InetSocketAddress service;
    private InetSocketAddress excludedCidrService;
    private InetSocketAddress excludedPortService;
    private InetSocketAddress appInPodA;
    private EchoServer serviceServer;
    private EchoServer excludedCidrServer;
    private EchoServer excludedPortServer;
    private EchoServer appServer;
    private EchoServer unmeshedAppServer;
    private NodeAgent agent;
    /** sockmap only: the group the pods' programs attach to; this JVM, the pods' clients, runs in it. */
    private ScratchCgroup cgroup;
    private AutoCloseable inCgroup;

    @BeforeParameterizedClassInvocation
    void buildTopologyAndStartAgent() throws IOException {
        KernelFeatures features = KernelProbe.run().assumeMissing(maskedFeatures());
        Verdict offered = new Selector(List.of(technique)).assess(features).getFirst();
        if (offered.outcome() == Verdict.Outcome.SKIPPED) {
            notOffered = technique.id() + " is not offered on this kernel: " + offered.reason();
            return;
        }
        notOffered = null;
        topology = Topology.create("kt", 3);
        podA = topology.pod(0);
        podB = topology.pod(1);
        podC = topology.pod(2);
        nsA = podA.open();
        nsB = podB.open();
        nsC = podC.open();
        try (NetNs up = topology.upstream().open()) {
            service = new InetSocketAddress(topology.serviceAddress(0), SERVICE_PORT);
            excludedCidrService = new InetSocketAddress(topology.serviceAddress(1), SERVICE_PORT);
            excludedPortService = new InetSocketAddress(topology.serviceAddress(0), EXCLUDED_PORT);
            serviceServer = EchoServer.start(up, service);
            excludedCidrServer = EchoServer.start(up, excludedCidrService);
            excludedPortServer = EchoServer.start(up, excludedPortService);
        }
        appInPodA = new InetSocketAddress(podA.address(), SERVICE_PORT);
        appServer = EchoServer.start(nsA, appInPodA);
        unmeshedAppServer = EchoServer.start(nsA, new InetSocketAddress(podA.address(), EXCLUDED_INBOUND_PORT));

        agent = NodeAgent.start(config(CapturePolicy.defaults()
                .withExcludeOutboundCidrs(List.of(Cidr.parse(topology.serviceAddress(1).getHostAddress() + "/32")))
                .withExcludeOutboundPorts(List.of(PortRange.of(EXCLUDED_PORT)))
                .withExcludeInboundPorts(List.of(PortRange.of(EXCLUDED_INBOUND_PORT)))
                .withExcludeOutboundOwners(List.of(SocketOwner.uid(EXCLUDED_UID)))));
        PodSpec a = new PodSpec("pod-a", podA.netnsPath());
        PodSpec b = new PodSpec("pod-b", podB.netnsPath());
        if (technique == TechniqueId.SOCKMAP) {
            // the pods share one group: each pod's programs act only on sockets of its own netns
            cgroup = ScratchCgroup.create("shunt-kt");
            inCgroup = cgroup.enter();
            a = a.withCgroup(cgroup.dir());
            b = b.withCgroup(cgroup.dir());
        }
        agent.addPod(a);
        agent.addPod(b);
    }

    /** Each case of a technique the kernel does not offer is reported as skipped, with the reason. */
    @BeforeEach
    void requireTheTechnique() {
        Assumptions.assumeTrue(notOffered == null, notOffered);
    }

    @AfterParameterizedClassInvocation
    void tearDown() throws IOException {
        try {
            if (agent != null) {
                agent.close();
                // After shutdown the pods' namespaces are exactly as before: nothing of Shunt left.
                assertNothingInstalled(podA);
                assertNothingInstalled(podB);
                if (cgroup != null) {
                    assertEquals("", cgroupPrograms(), "programs left on " + cgroup.dir());
                    Path pins = TcHijacker.configuredBpffs().resolve("shunt").resolve("sockmap");
                    assertFalse(Files.exists(pins), "sockmap pins left in " + pins);
                }
            }
        } finally {
            for (AutoCloseable c : new AutoCloseable[]{appServer, unmeshedAppServer, serviceServer, excludedCidrServer, excludedPortServer,
                    nsA, nsB, nsC, inCgroup, cgroup}) {
                closeQuietly(c);
            }
            if (topology != null) {
                topology.close();
            }
            // JUnit reuses this instance for the next technique: forget everything closed here, so a
            // technique that is skipped does not tear down this one's resources a second time.
            agent = null;
            topology = null;
            appServer = unmeshedAppServer = serviceServer = excludedCidrServer = excludedPortServer = null;
            inCgroup = null;
            cgroup = null;
            nsA = nsB = nsC = null;
        }
    }

    @Test
    void outboundConnectionReachesTheUpstreamThroughTheProxyWithThePodAsSource() throws IOException {
        PodCounters.Snapshot before = counters("pod-a");
        byte[] payload = randomBytes(1 << 20);

        PodClient.Exchange exchange = PodClient.exchange(nsA, service, payload);

        assertArrayEquals(payload, exchange.echoedBytes(), "every byte comes back, in order, through the proxy");
        assertTrue(exchange.helloLine().startsWith("hello from " + hostPort(service)), exchange.helloLine());
        // The upstream sees the pod's own address: the proxy dialled from inside the pod.
        assertTrue(exchange.helloLine().contains("you are " + podA.address().getHostAddress() + ":"),
                exchange.helloLine());
        assertEquals(podA.address(), serviceServer.peers().getLast().getAddress());

        PodCounters.Snapshot after = awaitIdle("pod-a");
        // Exactly one accepted connection: the proxy's own upstream connection was not diverted again.
        assertEquals(before.accepted() + 1, after.accepted());
        assertEquals(before.bytesFromClients() + payload.length, after.bytesFromClients());
        assertTrue(after.bytesFromUpstreams() >= before.bytesFromUpstreams() + payload.length);
        assertEquals(before.destinationMisses(), after.destinationMisses());
    }

    @Test
    void aClientThatConnectsAndLeavesAtOnceDoesNotLeaveAConnectionBehind() throws IOException {
        PodCounters.Snapshot before = counters("pod-a");
        try (SocketChannel ch = PodClient.connect(nsA, service, Duration.ofSeconds(10))) {
            // The app is unaware of the proxy: its socket is connected to the service address.
            assertEquals(service, ch.getRemoteAddress());
            assertEquals(podA.address(), ((InetSocketAddress) ch.getLocalAddress()).getAddress());
        }
        // Its FIN can reach the proxy before the upstream is connected; the connection must still end.
        awaitAccepted("pod-a", before.accepted() + 1);
        assertEquals(before.accepted() + 1, awaitIdle("pod-a").accepted());
    }

    @Test
    void bytesAndAHalfCloseSentBeforeTheUpstreamAnswersAreRelayed() throws IOException {
        byte[] request = "sent-before-the-upstream-answered".getBytes();
        try (SocketChannel ch = PodClient.connect(nsA, service, Duration.ofSeconds(10))) {
            ch.write(ByteBuffer.wrap(request));
            ch.shutdownOutput();
            ch.socket().setSoTimeout(10_000);
            byte[] reply = ch.socket().getInputStream().readAllBytes();
            String text = new String(reply);
            assertTrue(text.startsWith("hello from ") && text.endsWith("\n" + new String(request)), text);
        }
        awaitIdle("pod-a");
    }

    @Test
    void anExcludedCidrBypassesTheProxy() throws IOException {
        PodCounters.Snapshot before = counters("pod-a");
        PodClient.Exchange exchange = PodClient.exchange(nsA, excludedCidrService, "direct".getBytes());
        assertArrayEquals("direct".getBytes(), exchange.echoedBytes());
        assertEquals(before.accepted(), counters("pod-a").accepted(), "the proxy must not see an excluded CIDR");
    }

    @Test
    void aSocketOfAnExcludedUserBypassesTheProxyAndOtherUsersAreCaptured() throws IOException {
        PodCounters.Snapshot before = counters("pod-a");
        String excluded = helloAs(EXCLUDED_UID);
        assertTrue(excluded.startsWith("hello from " + service.getAddress().getHostAddress()), excluded);
        assertEquals(before.accepted(), counters("pod-a").accepted(), "the proxy must not see an excluded user's socket");

        String other = helloAs(EXCLUDED_UID + 1);
        assertTrue(other.startsWith("hello from " + service.getAddress().getHostAddress()), other);
        assertEquals(before.accepted() + 1, counters("pod-a").accepted(), "another user's socket is captured");
        awaitIdle("pod-a");
    }

    /** The service's hello line, read by a process of {@code uid} in pod-a (bash's /dev/tcp, under setpriv). */
    private String helloAs(int uid) throws IOException {
        return Topology.exec(podA.netnsName(), "setpriv", "--reuid", Integer.toString(uid), "--regid",
                Integer.toString(uid), "--clear-groups", "bash", "-c", "exec 3<>/dev/tcp/"
                        + service.getAddress().getHostAddress() + "/" + service.getPort() + " && head -n 1 <&3").strip();
    }

    @Test
    void anExcludedPortBypassesTheProxy() throws IOException {
        PodCounters.Snapshot before = counters("pod-a");
        PodClient.Exchange exchange = PodClient.exchange(nsA, excludedPortService, "direct".getBytes());
        assertArrayEquals("direct".getBytes(), exchange.echoedBytes());
        assertEquals(before.accepted(), counters("pod-a").accepted(), "the proxy must not see an excluded port");
    }

    @Test
    void inboundConnectionsAreCapturedAndDeliveredToTheApp() throws IOException {
        PodCounters.Snapshot beforeA = counters("pod-a");
        PodCounters.Snapshot beforeB = counters("pod-b");
        long appAccepted = appServer.accepted();
        byte[] payload = randomBytes(256 * 1024);

        // pod-b -> pod-a: pod-b's outbound listener and pod-a's inbound listener both relay it.
        PodClient.Exchange exchange = PodClient.exchange(nsB, appInPodA, payload);

        assertArrayEquals(payload, exchange.echoedBytes());
        assertEquals(appAccepted + 1, appServer.accepted(), "the app in pod-a got the connection");
        assertEquals(beforeA.accepted() + 1, awaitIdle("pod-a").accepted(), "pod-a's inbound listener relayed it");
        assertEquals(beforeB.accepted() + 1, awaitIdle("pod-b").accepted(), "pod-b's outbound listener relayed it");
    }

    @Test
    void inboundFromOutsideTheMeshIsCapturedToo() throws IOException {
        PodCounters.Snapshot before = counters("pod-a");
        try (NetNs up = topology.upstream().open()) {
            PodClient.Exchange exchange = PodClient.exchange(up, appInPodA, "from outside".getBytes());
            assertArrayEquals("from outside".getBytes(), exchange.echoedBytes());
        }
        assertEquals(before.accepted() + 1, awaitIdle("pod-a").accepted());
    }

    @Test
    void anExcludedInboundPortReachesTheAppDirectlyAndItsRepliesGetBack() throws IOException {
        PodCounters.Snapshot before = counters("pod-a");
        InetSocketAddress unmeshed = new InetSocketAddress(podA.address(), EXCLUDED_INBOUND_PORT);
        try (NetNs up = topology.upstream().open()) {
            PodClient.Exchange exchange = PodClient.exchange(up, unmeshed, "not meshed".getBytes(), Duration.ofSeconds(10));
            assertArrayEquals("not meshed".getBytes(), exchange.echoedBytes());
        }
        // No proxy in between: the app sees the real client, and the proxy saw nothing.
        assertEquals(podA.gateway(), unmeshedAppServer.peers().getLast().getAddress());
        assertEquals(before.accepted(), counters("pod-a").accepted());
    }

    @Test
    void aPodThatIsNotInterceptedGoesDirect() throws IOException {
        long served = serviceServer.accepted();
        PodClient.Exchange exchange = PodClient.exchange(nsC, service, "control".getBytes());
        assertArrayEquals("control".getBytes(), exchange.echoedBytes());
        assertEquals(served + 1, serviceServer.accepted());
        assertNothingInstalled(podC);
    }

    @Test
    void anUnreachableUpstreamResetsTheClientAndIsCounted() throws IOException {
        PodCounters.Snapshot before = counters("pod-a");
        InetSocketAddress nobody = new InetSocketAddress(topology.serviceAddress(0), 7777);
        // The proxy accepts the connection, then passes the upstream's refusal on as a reset. The
        // reset can reach the client while connect() is still returning, or on its first read.
        IOException e = assertThrows(IOException.class, () -> {
            try (SocketChannel ch = PodClient.connect(nsA, nobody, Duration.ofSeconds(10))) {
                ch.socket().setSoTimeout(10_000);
                if (ch.socket().getInputStream().read() == -1) {
                    throw new AssertionError("expected a reset, got an orderly close");
                }
            }
        });
        assertTrue(String.valueOf(e.getMessage()).toLowerCase().contains("reset"), e.toString());
        assertEquals(before.upstreamFailures() + 1, awaitIdle("pod-a").upstreamFailures());
    }

    @Test
    void aListenerPortInUseFailsThePodAndInstallsNothing() throws IOException {
        try (NodeAgent second = NodeAgent.start(config(CapturePolicy.defaults()));
             // ServerSocketChannel.open() creates its fd at once, inside pod-c; new ServerSocket() would
             // create it later, at bind(), in whatever namespace the thread is in by then.
             ServerSocketChannel squatter = nsC.run(() -> ServerSocketChannel.open(StandardProtocolFamily.INET))) {
            squatter.bind(new InetSocketAddress("127.0.0.1", CapturePolicy.DEFAULT_OUTBOUND_PORT));
            PodSetupException e = assertThrows(PodSetupException.class,
                    () -> second.addPod(new PodSpec("pod-c", podC.netnsPath())));
            assertTrue(e.getMessage().contains("pod pod-c") && e.getMessage().contains("in use"), e.getMessage());
            assertNothingInstalled(podC);
            assertTrue(second.pods().isEmpty());
            // The inbound port was never left open either.
            try (ServerSocketChannel probe = nsC.run(() -> ServerSocketChannel.open(StandardProtocolFamily.INET))) {
                probe.bind(new InetSocketAddress("0.0.0.0", CapturePolicy.DEFAULT_INBOUND_PORT));
            }
        }
    }

    @Test
    void aMissingOrWrongNetnsPathIsRefusedWithItsName() throws IOException {
        try (NodeAgent second = NodeAgent.start(config(CapturePolicy.defaults()))) {
            PodSetupException missing = assertThrows(PodSetupException.class,
                    () -> second.addPod(new PodSpec("ghost", Path.of("/var/run/netns/shunt-kt-no-such-ns"))));
            assertTrue(missing.getMessage().contains("/var/run/netns/shunt-kt-no-such-ns does not exist"),
                    missing.getMessage());
            PodSetupException notNetns = assertThrows(PodSetupException.class,
                    () -> second.addPod(new PodSpec("file", Path.of("/etc/hostname"))));
            assertTrue(notNetns.getMessage().contains("/etc/hostname is not a namespace file"), notNetns.getMessage());
            assertTrue(second.pods().isEmpty());
        }
    }

    @Test
    void theSameNetnsCannotBeInterceptedTwice() {
        PodSetupException e = assertThrows(PodSetupException.class,
                () -> agent.addPod(new PodSpec("pod-a-again", podA.netnsPath())));
        assertTrue(e.getMessage().contains("belongs to another pod"), e.getMessage());
        assertFalse(agent.counters("pod-a-again").isPresent());
    }

    @Test
    void releasingAPodRemovesItsRulesAndItsTrafficGoesDirectAgain() throws IOException {
        try (NodeAgent second = NodeAgent.start(config(CapturePolicy.defaults()))) {
            String cgroupBefore = cgroupPrograms();
            assertEquals(technique, second.addPod(spec("pod-c", podC)).technique());
            assertTrue(second.pod("pod-c").orElseThrow().hijacker().installed(nsC).isPresent(),
                    "the technique reports what it installed in pod-c");
            PodClient.exchange(nsC, service, "via proxy".getBytes());
            assertEquals(1, second.counters("pod-c").orElseThrow().accepted());

            assertTrue(second.removePod("pod-c"));
            assertNothingInstalled(podC);
            assertEquals(cgroupBefore, cgroupPrograms(), "pod-c's cgroup programs are gone, the others' stay");
            assertArrayEquals("direct".getBytes(), PodClient.exchange(nsC, service, "direct".getBytes()).echoedBytes());
            assertFalse(second.removePod("pod-c"), "releasing twice is a no-op");
        }
    }

    @Test
    void installingTheSameRulesAgainChangesNothing() throws IOException {
        ManagedPod pod = agent.pod("pod-a").orElseThrow();
        assertEquals(technique, pod.technique());
        String before = installedState(podA);
        pod.hijacker().install(pod.netns(), agent.config().policy());
        assertEquals(before, installedState(podA));
        assertArrayEquals("still".getBytes(), PodClient.exchange(nsA, service, "still".getBytes()).echoedBytes());
    }

    /** A pod as this technique needs it: sockmap's with the test's cgroup. */
    private PodSpec spec(String name, PodNs pod) {
        PodSpec spec = new PodSpec(name, pod.netnsPath());
        return cgroup == null ? spec : spec.withCgroup(cgroup.dir());
    }

    /** The programs attached to the test's cgroup (sockmap), as bpftool lists them; empty for other techniques. */
    private String cgroupPrograms() throws IOException {
        if (cgroup == null) {
            return "";
        }
        return Topology.execHere("bpftool", "cgroup", "show", cgroup.dir().toString()).lines()
                .filter(l -> l.contains("shunt_")).map(l -> l.replaceAll("^\\s*\\d+\\s+", "")).sorted()
                .collect(Collectors.joining("\n"));
    }

    private AgentConfig config(CapturePolicy policy) {
        return new AgentConfig(List.of(technique), maskedFeatures(), policy, EngineConfig.defaults(), true);
    }

    /** Features to treat as missing, to see on this kernel what an older one would get. */
    private static Set<Feature> maskedFeatures() {
        String masked = System.getProperty("shunt.conformance.assume-missing", "");
        return masked.isBlank() ? Set.of()
                : Arrays.stream(masked.split(",")).map(String::strip).map(Feature::fromId).collect(Collectors.toSet());
    }

    /** Rules, policy-routing rules and routes of a pod: everything a technique may install. */
    private static String installedState(PodNs pod) throws IOException {
        return rules(pod) + "\n--\n" + Topology.exec(pod.netnsName(), "ip", "rule") + "\n--\n"
                + Topology.exec(pod.netnsName(), "ip", "route", "show", "table", "all") + "\n--\n"
                + Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "egress") + "\n--\n"
                + Topology.exec(pod.netnsName(), "bpftool", "net", "show");
    }

    private static void assertNothingInstalled(PodNs pod) throws IOException {
        assertEquals("", rules(pod), "nftables rules left in " + pod.name());
        String ipRules = Topology.exec(pod.netnsName(), "ip", "rule");
        assertFalse(ipRules.contains("fwmark"), "policy-routing rules left in " + pod.name() + ":\n" + ipRules);
        String routes = Topology.exec(pod.netnsName(), "ip", "route", "show", "table", "all");
        assertFalse(routes.lines().anyMatch(l -> l.startsWith("local default")),
                "a local default route left in " + pod.name() + ":\n" + routes);
        String filters = Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "egress");
        assertEquals("", filters.strip(), "tc egress filters left in " + pod.name());
        String netAttachments = Topology.exec(pod.netnsName(), "bpftool", "net", "show");
        assertFalse(netAttachments.contains("shunt_"), "BPF programs of Shunt still attached in " + pod.name() + ":\n"
                + netAttachments);
    }

    private PodCounters.Snapshot counters(String pod) {
        return agent.counters(pod).orElseThrow();
    }

    /** Waits (bounded) until the pod's listeners have accepted {@code total} connections in all. */
    private void awaitAccepted(String pod, long total) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (counters(pod).accepted() < total && System.nanoTime() < deadline) {
            sleep(5);
        }
        assertEquals(total, counters(pod).accepted(), "connections accepted by " + pod);
    }

    /** Waits (bounded) until the pod's connections have all ended, so the totals are final. */
    private PodCounters.Snapshot awaitIdle(String pod) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        PodCounters.Snapshot s = counters(pod);
        while (s.active() != 0 && System.nanoTime() < deadline) {
            sleep(5);
            s = counters(pod);
        }
        assertEquals(0, s.active(), "connections of " + pod + " still open after 10 s: " + s);
        return s;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting", e);
        }
    }

    private static String rules(PodNs pod) throws IOException {
        return Topology.exec(pod.netnsName(), "nft", "list", "ruleset").strip();
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }

    private static String hostPort(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception ignored) {
            // teardown continues; the topology's own verification reports what is left
        }
    }
}
