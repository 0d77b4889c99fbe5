package io.shunt.kerneltests;

import io.shunt.agent.AgentConfig;
import io.shunt.agent.NodeAgent;
import io.shunt.agent.registry.PodSpec;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.proxy.EngineConfig;
import io.shunt.proxy.PodCounters;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import io.shunt.kerneltests.KernelTestSupport.WriteResult;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

import static io.shunt.kerneltests.KernelTestSupport.accept;
import static io.shunt.kerneltests.KernelTestSupport.awaitIdle;
import static io.shunt.kerneltests.KernelTestSupport.closeQuietly;
import static io.shunt.kerneltests.KernelTestSupport.counters;
import static io.shunt.kerneltests.KernelTestSupport.listen;
import static io.shunt.kerneltests.KernelTestSupport.randomBytes;
import static io.shunt.kerneltests.KernelTestSupport.readPattern;
import static io.shunt.kerneltests.KernelTestSupport.rules;
import static io.shunt.kerneltests.KernelTestSupport.sleep;
import static io.shunt.kerneltests.KernelTestSupport.writeUntilStalled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * How the relay behaves under pressure and over time: it never buffers without bound when the
 * upstream stops reading, it closes connections that stay idle, and it carries large transfers in
 * both directions byte for byte. pod-a is intercepted by an agent with default settings, pod-b by
 * one whose idle timeout is 1 s.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RelayBehaviourTest {
    private static final int ECHO_PORT = 8080;
    private static final int SINK_PORT = 9100;
    private static final int IDLE_PORT = 9101;

    private static final int MiB = 1 << 20;
    /** Far above what the kernel's socket buffers on the path can hold, far below "everything". */
    private static final long BUFFERED_BOUND = 64L * MiB;
    private static final long WRITE_CAP = 256L * MiB;
    private static final Duration WRITE_LIMIT = Duration.ofSeconds(20);
    private static final Duration STALL = Duration.ofSeconds(1);
    private static final Duration IDLE_TIMEOUT = Duration.ofSeconds(1);

    private Topology topology;
    private PodNs podA;
    private PodNs podB;
    private NetNs nsA;
    private NetNs nsB;
    private NetNs up;
    private InetSocketAddress echo;
    private EchoServer echoServer;
    private NodeAgent agent;
    private NodeAgent idleAgent;

    @BeforeAll
    void buildTopologyAndStartAgents() throws IOException {
        topology = Topology.create("ktrelay", 2);
        podA = topology.pod(0);
        podB = topology.pod(1);
        nsA = podA.open();
        nsB = podB.open();
        up = topology.upstream().open();
        echo = new InetSocketAddress(topology.serviceAddress(0), ECHO_PORT);
        echoServer = EchoServer.start(up, echo);

        agent = NodeAgent.start(new AgentConfig(TechniqueId.REDIRECT, CapturePolicy.defaults(),
                EngineConfig.defaults(), true));
        agent.addPod(new PodSpec("pod-a", podA.netnsPath()));
        idleAgent = NodeAgent.start(new AgentConfig(TechniqueId.REDIRECT, CapturePolicy.defaults(),
                EngineConfig.defaults().withIdleTimeout(IDLE_TIMEOUT), true));
        idleAgent.addPod(new PodSpec("pod-b", podB.netnsPath()));
    }

    @AfterAll
    void tearDown() throws IOException {
        try {
            if (agent != null) {
                agent.close();
                assertEquals("", rules(podA));
            }
            if (idleAgent != null) {
                idleAgent.close();
                assertEquals("", rules(podB));
            }
        } finally {
            for (AutoCloseable c : new AutoCloseable[]{echoServer, up, nsA, nsB}) {
                closeQuietly(c);
            }
            if (topology != null) {
                topology.close();
            }
        }
    }

    /**
     * The upstream accepts but never reads. The client writes until its writes stop making
     * progress: what it got rid of must fit in the sockets' buffers on the way, so the proxy held
     * back (stopped reading the client) instead of queueing everything in memory. Once the
     * upstream reads, exactly those bytes arrive, in order.
     */
    @Test
    void aClientWritingToAnUpstreamThatDoesNotReadIsHeldBackAndLosesNothing() throws IOException {
        PodCounters.Snapshot before = counters(agent, "pod-a");
        InetSocketAddress sinkAddress = new InetSocketAddress(topology.serviceAddress(0), SINK_PORT);
        try (ServerSocketChannel sink = listen(up, sinkAddress);
             SocketChannel client = PodClient.connect(nsA, sinkAddress, Duration.ofSeconds(10));
             SocketChannel accepted = accept(sink, Duration.ofSeconds(10))) {
            assertEquals(podA.address(), ((InetSocketAddress) accepted.getRemoteAddress()).getAddress(),
                    "the upstream connection comes from the pod: it went through the proxy");

            WriteResult w = writeUntilStalled(client, WRITE_CAP, WRITE_LIMIT, STALL);
            long written = w.written();
            boolean stalled = w.stalled();
            System.out.printf("RelayBehaviourTest: the client wrote %d bytes (%.1f MiB) before its writes stalled "
                    + "(stalled=%s; proxy had read %d bytes from it)%n", written, written / (double) MiB, stalled,
                    counters(agent, "pod-a").bytesFromClients() - before.bytesFromClients());
            assertTrue(stalled, "the client's writes never stalled: " + written + " bytes accepted (limits: "
                    + WRITE_CAP + " bytes, " + WRITE_LIMIT.toSeconds() + " s) although the upstream reads nothing; "
                    + "the proxy buffers without bound");
            assertTrue(written < BUFFERED_BOUND, "the client got rid of " + written + " bytes although the upstream "
                    + "reads nothing; more than socket buffers hold, so the proxy buffered them");
            assertTrue(counters(agent, "pod-a").active() >= 1, "the held-back connection is still open");

            client.shutdownOutput();
            long received = readPattern(accepted, written, Duration.ofSeconds(60), "the upstream");
            assertEquals(written, received, "every byte the client wrote reaches the upstream once it reads");

            // The upstream's close ends the connection; the client sees an orderly end.
            accepted.close();
            client.configureBlocking(true);
            client.socket().setSoTimeout(10_000);
            assertEquals(-1, client.socket().getInputStream().read(), "the client sees the upstream's FIN");

            PodCounters.Snapshot after = awaitIdle(agent, "pod-a");
            assertEquals(before.accepted() + 1, after.accepted());
            assertEquals(before.bytesFromClients() + written, after.bytesFromClients(),
                    "the counters report exactly the relayed bytes");
            assertEquals(before.bytesFromUpstreams(), after.bytesFromUpstreams());
        }
    }

    /** A connection with no bytes either way for longer than the idle timeout is closed on both sides. */
    @Test
    void anIdleConnectionIsClosedByTheProxyOnBothSides() throws IOException {
        PodCounters.Snapshot before = counters(idleAgent, "pod-b");
        InetSocketAddress target = new InetSocketAddress(topology.serviceAddress(0), IDLE_PORT);
        byte[] ping = "ping".getBytes(StandardCharsets.US_ASCII);
        try (ServerSocketChannel server = listen(up, target);
             SocketChannel client = PodClient.connect(nsB, target, Duration.ofSeconds(10));
             SocketChannel accepted = accept(server, Duration.ofSeconds(10))) {
            // The connection works before it goes idle.
            client.write(ByteBuffer.wrap(ping));
            accepted.socket().setSoTimeout(10_000);
            assertArrayEquals(ping, accepted.socket().getInputStream().readNBytes(ping.length));
            assertEquals(before.accepted() + 1, counters(idleAgent, "pod-b").accepted());

            // Now nobody sends anything; the proxy must end the connection within a bounded wait.
            client.socket().setSoTimeout(10_000);
            assertClosed(client.socket().getInputStream(), "the client");
            assertClosed(accepted.socket().getInputStream(), "the upstream");
        }
        PodCounters.Snapshot after = awaitIdle(idleAgent, "pod-b");
        assertEquals(before.accepted() + 1, after.accepted());
    }

    /** The idle timeout is about silence, not age: a connection that keeps talking outlives it. */
    @Test
    void aConnectionThatKeepsTalkingOutlivesTheIdleTimeout() throws IOException {
        try (SocketChannel client = PodClient.connect(nsB, echo, Duration.ofSeconds(10))) {
            client.socket().setSoTimeout(10_000);
            InputStream in = client.socket().getInputStream();
            String hello = readLine(in);
            assertTrue(hello.startsWith("hello from "), hello);
            // Three idle timeouts' worth of time, with a message every fifth of one.
            for (int i = 0; i < 15; i++) {
                byte[] message = ("message " + i + "\n").getBytes(StandardCharsets.US_ASCII);
                client.write(ByteBuffer.wrap(message));
                assertArrayEquals(message, in.readNBytes(message.length), "echo of message " + i);
                sleep(IDLE_TIMEOUT.toMillis() / 5);
            }
            assertEquals(1, counters(idleAgent, "pod-b").active(), "the talking connection is still open");
        }
        awaitIdle(idleAgent, "pod-b");
    }

    /** 8 MiB each way at once through the proxy, byte for byte, and counted exactly. */
    @Test
    void largeTransfersInBothDirectionsAreByteExact() throws IOException {
        PodCounters.Snapshot before = counters(agent, "pod-a");
        byte[] payload = randomBytes(8 * MiB);

        PodClient.Exchange exchange = PodClient.exchange(nsA, echo, payload, Duration.ofSeconds(60));

        assertEquals(payload.length, exchange.echoedBytes().length, "echoed length");
        int mismatch = Arrays.mismatch(payload, exchange.echoedBytes());
        assertEquals(-1, mismatch, "first differing byte of the echo");
        assertTrue(exchange.helloLine().contains("you are " + podA.address().getHostAddress() + ":"),
                exchange.helloLine());

        PodCounters.Snapshot after = awaitIdle(agent, "pod-a");
        assertEquals(before.accepted() + 1, after.accepted(), "accepted");
        assertEquals(before.bytesFromClients() + payload.length, after.bytesFromClients(), "bytesFromClients");
        long greeting = exchange.helloLine().length() + 1;
        assertEquals(before.bytesFromUpstreams() + greeting + payload.length, after.bytesFromUpstreams(),
                "bytesFromUpstreams: the greeting line and the echo");
    }

    // ----------------------------------------------------------------------------------------------

    /** The stream ends (EOF) or is reset within its SO_TIMEOUT; a timeout means nobody closed it. */
    private static void assertClosed(InputStream in, String side) {
        try {
            int n = in.read();
            assertEquals(-1, n, side + " read a byte from an idle connection instead of seeing it closed");
        } catch (SocketTimeoutException e) {
            fail(side + "'s idle connection was still open after 10 s; the idle timeout is " + IDLE_TIMEOUT.toMillis() + " ms");
        } catch (IOException e) {
            // a reset: closed, which is what the idle timeout does
            assertFalse(e instanceof SocketTimeoutException);
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b < 0) {
                fail("the connection ended before a full line: '" + line + "'");
            }
            line.append((char) b);
            assertTrue(line.length() < 1024, "line too long");
        }
        return line.toString();
    }
}
