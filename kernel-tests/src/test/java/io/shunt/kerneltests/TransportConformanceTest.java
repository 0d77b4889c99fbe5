package io.shunt.kerneltests;

import io.shunt.agent.AgentConfig;
import io.shunt.agent.NodeAgent;
import io.shunt.agent.registry.PodSpec;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.PortRange;
import io.shunt.proxy.EngineConfig;
import io.shunt.proxy.PodCounters;
import io.shunt.proxy.Transport;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import io.shunt.kerneltests.KernelTestSupport.WriteResult;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static io.shunt.kerneltests.KernelTestSupport.accept;
import static io.shunt.kerneltests.KernelTestSupport.awaitIdle;
import static io.shunt.kerneltests.KernelTestSupport.closeQuietly;
import static io.shunt.kerneltests.KernelTestSupport.counters;
import static io.shunt.kerneltests.KernelTestSupport.listen;
import static io.shunt.kerneltests.KernelTestSupport.randomBytes;
import static io.shunt.kerneltests.KernelTestSupport.readPattern;
import static io.shunt.kerneltests.KernelTestSupport.rules;
import static io.shunt.kerneltests.KernelTestSupport.writeUntilStalled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same interception behaviour on every Netty transport the engine offers: each case runs with
 * an agent forced onto one transport; a transport this machine cannot run is skipped, with why.
 * pod-a is intercepted; pod-b is a plain neighbour used as an outside client.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TransportConformanceTest {
    private static final int SERVICE_PORT = 8080;
    private static final int EXCLUDED_PORT = 9090;
    private static final int SINK_PORT = 9100;
    private static final int RESPONSE_BYTES = 1 << 20;
    /** What a held-back request sends beyond what the proxy takes while the upstream does not read. */
    private static final int HELD_MARGIN = 32 * 1024;
    private static final String POD = "pod-a";

    private Topology topology;
    private PodNs podA;
    private NetNs nsA;
    private NetNs nsB;
    private InetSocketAddress service;
    private InetSocketAddress excludedPortService;
    private InetSocketAddress appInPodA;
    private EchoServer serviceServer;
    private EchoServer excludedPortServer;
    private EchoServer appServer;
    private NodeAgent agent;

    @BeforeAll
    void buildTopology() throws IOException {
        topology = Topology.create("kttransport", 2);
        podA = topology.pod(0);
        nsA = podA.open();
        nsB = topology.pod(1).open();
        try (NetNs up = topology.upstream().open()) {
            service = new InetSocketAddress(topology.serviceAddress(0), SERVICE_PORT);
            excludedPortService = new InetSocketAddress(topology.serviceAddress(0), EXCLUDED_PORT);
            serviceServer = EchoServer.start(up, service);
            excludedPortServer = EchoServer.start(up, excludedPortService);
        }
        appInPodA = new InetSocketAddress(podA.address(), SERVICE_PORT);
        appServer = EchoServer.start(nsA, appInPodA);
    }

    @AfterEach
    void stopAgent() throws IOException {
        if (agent != null) {
            NodeAgent a = agent;
            agent = null;
            a.close();
        }
        String left = rules(podA);
        if (!left.isEmpty()) {
            // Our own pod namespace: clear it so that one failure does not cascade into the next cases.
            Topology.exec(podA.netnsName(), "nft", "flush", "ruleset");
        }
        assertEquals("", left, "rules left in " + podA);
    }

    @AfterAll
    void tearDown() throws IOException {
        try {
            closeQuietly(agent);
        } finally {
            for (AutoCloseable c : new AutoCloseable[]{appServer, serviceServer, excludedPortServer, nsA, nsB}) {
                closeQuietly(c);
            }
            if (topology != null) {
                topology.close();
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Transport.class)
    void theEngineRunsOnTheForcedTransport(Transport transport) throws IOException {
        assumeAvailable(transport); // probing io_uring opens a ring for a moment: before counting
        long ringsBefore = ioUringFds();
        start(transport);
        assertEquals(transport, agent.config().engine().transport());
        // Event loops start lazily: carry a connection so that at least one of them runs.
        PodClient.exchange(nsA, service, "wake".getBytes());
        awaitIdle(agent, POD);
        long ringsNow = ioUringFds();
        if (transport == Transport.IO_URING) {
            assertTrue(ringsNow > ringsBefore, "an io_uring engine created no io_uring instance (io_uring fds before "
                    + ringsBefore + ", now " + ringsNow + ")");
        } else {
            assertTrue(ringsNow <= ringsBefore, "a " + transport.id() + " engine created io_uring instances (before "
                    + ringsBefore + ", now " + ringsNow + ")");
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Transport.class)
    void outboundCaptureIsByteExactAndTheUpstreamSeesThePod(Transport transport) throws IOException {
        start(transport);
        long served = serviceServer.accepted();
        byte[] payload = randomBytes(1 << 20);

        PodClient.Exchange exchange = PodClient.exchange(nsA, service, payload);

        assertArrayEquals(payload, exchange.echoedBytes(), "every byte comes back, in order, through the proxy");
        assertEquals(served + 1, serviceServer.accepted());
        assertEquals(podA.address(), serviceServer.peers().getLast().getAddress(),
                "the upstream sees the pod's own address");
        PodCounters.Snapshot after = awaitIdle(agent, POD);
        assertEquals(1, after.accepted(), "the proxy relayed it, once");
        assertEquals(payload.length, after.bytesFromClients(), "bytesFromClients");
        assertEquals(exchange.helloLine().length() + 1 + payload.length, after.bytesFromUpstreams(),
                "bytesFromUpstreams: the greeting line and the echo");
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Transport.class)
    void inboundCaptureDeliversToTheAppInThePod(Transport transport) throws IOException {
        start(transport);
        long appAccepted = appServer.accepted();
        byte[] payload = randomBytes(256 * 1024);

        // pod-b is not intercepted: only pod-a's inbound listener is on the way.
        PodClient.Exchange exchange = PodClient.exchange(nsB, appInPodA, payload);

        assertArrayEquals(payload, exchange.echoedBytes());
        assertTrue(exchange.helloLine().startsWith("hello from " + podA.address().getHostAddress() + ":" + SERVICE_PORT),
                exchange.helloLine());
        assertEquals(appAccepted + 1, appServer.accepted(), "the app in pod-a got the connection");
        PodCounters.Snapshot after = awaitIdle(agent, POD);
        assertEquals(1, after.accepted(), "pod-a's inbound listener relayed it");
        assertEquals(payload.length, after.bytesFromClients(), "bytesFromClients");
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Transport.class)
    void anExcludedPortBypassesTheProxy(Transport transport) throws IOException {
        start(transport);
        PodClient.Exchange exchange = PodClient.exchange(nsA, excludedPortService, "direct".getBytes());
        assertArrayEquals("direct".getBytes(), exchange.echoedBytes());
        assertEquals(podA.address(), excludedPortServer.peers().getLast().getAddress());
        assertEquals(0, counters(agent, POD).accepted(), "the proxy must not see an excluded port");
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Transport.class)
    void closingTheAgentRemovesTheRulesAndTrafficGoesDirect(Transport transport) throws IOException {
        start(transport);
        assertTrue(rules(podA).contains("table inet shunt"), rules(podA));
        PodClient.exchange(nsA, service, "via proxy".getBytes());
        assertEquals(1, awaitIdle(agent, POD).accepted());

        NodeAgent a = agent;
        agent = null;
        a.close();

        assertEquals("", rules(podA), "no Shunt rules stay in the pod after the agent closed");
        // With nothing listening on 15001 any more, a leftover rule would make this fail.
        byte[] payload = "direct again".getBytes();
        assertArrayEquals(payload, PodClient.exchange(nsA, service, payload).echoedBytes());
        assertEquals(podA.address(), serviceServer.peers().getLast().getAddress());
    }

    /**
     * A request/response exchange where the client's FIN reaches the proxy while the proxy is
     * holding the client back (the upstream has not read yet). Once the upstream reads the request
     * and answers, the whole answer must reach the half-closed client, on every transport.
     *
     * <p>First, one connection measures how much the proxy takes from a client while the upstream
     * reads nothing. Then a fresh connection sends a little more than that, and its FIN: the tail
     * and the FIN arrive while the proxy has stopped reading the client.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Transport.class)
    void aHalfClosedClientThatWasHeldBackStillGetsTheWholeResponse(Transport transport) throws IOException {
        start(transport);
        InetSocketAddress target = new InetSocketAddress(topology.serviceAddress(0), SINK_PORT);
        try (NetNs up = topology.upstream().open();
             ServerSocketChannel sink = listen(up, target)) {
            long held;
            try (SocketChannel client = PodClient.connect(nsA, target, Duration.ofSeconds(10));
                 SocketChannel accepted = accept(sink, Duration.ofSeconds(10))) {
                WriteResult w = writeUntilStalled(client, 256L << 20, Duration.ofSeconds(20), Duration.ofSeconds(1));
                assertTrue(w.stalled(), "the client was never held back: " + w);
                held = counters(agent, POD).bytesFromClients();
            }
            awaitIdle(agent, POD);
            long relayedBefore = counters(agent, POD).bytesFromClients();

            long request = held + HELD_MARGIN;
            try (SocketChannel client = PodClient.connect(nsA, target, Duration.ofSeconds(10));
                 SocketChannel accepted = accept(sink, Duration.ofSeconds(10))) {
                WriteResult w = writeUntilStalled(client, request, Duration.ofSeconds(20), Duration.ofSeconds(5));
                assertEquals(request, w.written(), "the request fits in the buffers on the way: " + w);
                client.shutdownOutput();
                // io_uring and epoll read on RDHUP even while reading is paused, so they take the tail and
                // the FIN now, with backpressure still on: the case this test is about. NIO reads nothing
                // while paused, which is also correct; for it the tail comes once the upstream drains.
                KernelTestSupport.await(Duration.ofSeconds(transport == Transport.NIO ? 1 : 10),
                        () -> counters(agent, POD).bytesFromClients() - relayedBefore == request);

                assertEquals(request, readPattern(accepted, request, Duration.ofSeconds(30), "the upstream"),
                        "the whole request reaches the upstream");
                // Bounded, non-blocking: a proxy that stopped reading must not hang the test.
                WriteResult response = writeUntilStalled(accepted, RESPONSE_BYTES, Duration.ofSeconds(30),
                        Duration.ofSeconds(5));
                assertEquals(RESPONSE_BYTES, response.written(), "the proxy stopped taking the upstream's response: "
                        + response);
                accepted.close();

                client.configureBlocking(true);
                assertEquals(RESPONSE_BYTES, readPattern(client, RESPONSE_BYTES, Duration.ofSeconds(30),
                        "the half-closed client"), "the whole response reaches the half-closed client");
            }
        }
        PodCounters.Snapshot after = awaitIdle(agent, POD);
        assertEquals(2, after.accepted());
        assertEquals(RESPONSE_BYTES, after.bytesFromUpstreams(), "bytesFromUpstreams");
    }

    // ----------------------------------------------------------------------------------------------

    private static void assumeAvailable(Transport transport) {
        Assumptions.assumeTrue(transport.isAvailable(), () -> transport.id() + " is not available here: "
                + transport.unavailabilityCause());
    }

    private void start(Transport transport) throws IOException {
        assumeAvailable(transport);
        assertEquals("", rules(podA), "pod-a must start without rules");
        CapturePolicy policy = CapturePolicy.defaults().withExcludeOutboundPorts(List.of(PortRange.of(EXCLUDED_PORT)));
        agent = NodeAgent.start(new AgentConfig(TechniqueId.REDIRECT, policy, EngineConfig.defaults(transport), false));
        agent.addPod(new PodSpec(POD, podA.netnsPath()));
    }

    /** io_uring instances this JVM holds open: fds that link to anon_inode:[io_uring]. */
    private static long ioUringFds() throws IOException {
        long n = 0;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path fd : fds) {
                try {
                    if (Files.readSymbolicLink(fd).toString().equals("anon_inode:[io_uring]")) {
                        n++;
                    }
                } catch (IOException e) {
                    // the fd closed while we looked
                }
            }
        }
        return n;
    }
}
