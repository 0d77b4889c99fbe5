package io.shunt.kerneltests;

import io.shunt.agent.AgentConfig;
import io.shunt.agent.NodeAgent;
import io.shunt.agent.registry.PodSpec;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.select.Selector;
import io.shunt.proxy.ConnectionLimits;
import io.shunt.proxy.EngineConfig;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static io.shunt.kerneltests.KernelTestSupport.closeQuietly;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Connection limits: past the pod's or the node's limit a new connection is reset at once and
 * counted, the connections already open are untouched, and a freed slot is usable again.
 */
class OverloadTest {
    private Topology topology;
    private PodNs podA;
    private PodNs podB;
    private NodeAgent agent;
    private EchoServer service;
    private InetSocketAddress serviceAddress;
    private final List<SocketChannel> open = new ArrayList<>();

    @BeforeEach
    void agentWithTightLimits() throws IOException {
        topology = Topology.create("ktload", 2);
        podA = topology.pod(0);
        podB = topology.pod(1);
        try (NetNs up = topology.upstream().open()) {
            serviceAddress = new InetSocketAddress(topology.serviceAddress(0), 8080);
            service = EchoServer.start(up, serviceAddress);
        }
        agent = NodeAgent.start(new AgentConfig(Selector.DEFAULT_RANKING, Set.of(), CapturePolicy.defaults(),
                EngineConfig.defaults().withLimits(new ConnectionLimits(2, 3)), false));
        agent.addPod(new PodSpec("pod-a", podA.netnsPath()));
        agent.addPod(new PodSpec("pod-b", podB.netnsPath()));
    }

    @AfterEach
    void tearDown() throws IOException {
        open.forEach(KernelTestSupport::closeQuietly);
        try {
            closeQuietly(service);
            closeQuietly(agent);
        } finally {
            topology.close();
        }
    }

    @Test
    void pastThePodLimitNewConnectionsAreResetAndCountedWhileOpenOnesFlow() throws IOException {
        assertTrue(greeted(podA), "first");
        assertTrue(greeted(podA), "second");

        assertFalse(greeted(podA), "the third connection of pod-a is over its limit of 2");
        assertEquals(1, KernelTestSupport.counters(agent, "pod-a").shed());
        assertEquals(2, KernelTestSupport.counters(agent, "pod-a").accepted());

        // The open ones are untouched.
        for (SocketChannel ch : open) {
            ch.write(java.nio.ByteBuffer.wrap("still".getBytes()));
            byte[] back = new byte[5];
            ch.socket().getInputStream().readNBytes(back, 0, 5);
            assertArrayEquals("still".getBytes(), back);
        }

        // pod-b has room of its own, until the node's limit of 3 is reached.
        assertTrue(greeted(podB), "pod-b's first");
        assertFalse(greeted(podB), "the node's fourth connection is over the node limit of 3");
        assertEquals(1, KernelTestSupport.counters(agent, "pod-b").shed());

        // A freed slot is usable again.
        open.removeFirst().close();
        assertTrue(KernelTestSupport.await(Duration.ofSeconds(10),
                () -> KernelTestSupport.counters(agent, "pod-a").active() == 1));
        assertTrue(greeted(podA), "a slot freed by a closed connection");
    }

    /** Opens a connection from the pod and keeps it open; true when the service's hello line came. */
    private boolean greeted(PodNs pod) throws IOException {
        try (NetNs ns = NetNs.open(pod.netnsPath())) {
            SocketChannel ch;
            try {
                ch = PodClient.connect(ns, serviceAddress, Duration.ofSeconds(10));
            } catch (IOException resetWhileConnecting) {
                // The proxy's reset can beat the end of connect(): shed all the same.
                return false;
            }
            ch.socket().setSoTimeout(10_000);
            InputStream in = ch.socket().getInputStream();
            try {
                int first = in.read();
                if (first < 0) {
                    ch.close();
                    return false;
                }
                while (in.read() != '\n') {
                    // the rest of the greeting
                }
            } catch (IOException reset) {
                ch.close();
                return false;
            }
            open.add(ch);
            return true;
        }
    }
}
