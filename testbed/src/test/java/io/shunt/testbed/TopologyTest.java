package io.shunt.testbed;

import io.shunt.ffi.netns.NetNs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Traffic through a real two-pod topology: pods reach the service addresses and each other, and nothing else. */
class TopologyTest {
    private static final int PORT = 8080;

    private static String rootIpForwardBefore;
    private static Topology topology;
    private static NetNs up;
    private static NetNs podA;
    private static NetNs podB;
    private static EchoServer service;

    @BeforeAll
    static void build() throws Exception {
        rootIpForwardBefore = RootNamespace.ipForward();
        topology = Topology.create("kt");
        up = topology.upstream().open();
        podA = topology.pod(0).open();
        podB = topology.pod(1).open();
        service = EchoServer.start(up, new InetSocketAddress(topology.serviceAddress(0), PORT));
    }

    @AfterAll
    static void tearDown() throws Exception {
        // Servers and handles first: an open socket would keep a deleted namespace alive.
        Closing.inOrder(service, podB, podA, up, topology);
    }

    @Test
    void podAGetsOneMebibyteEchoedExactlyAndTheServerSeesPodAsAddress() throws Exception {
        byte[] payload = new byte[1 << 20];
        new Random(42).nextBytes(payload);

        PodClient.Exchange exchange = PodClient.exchange(podA, service.address(), payload);

        assertArrayEquals(payload, exchange.echoedBytes());
        assertEquals(topology.pod(0).address(), exchange.localAddress().getAddress());
        assertEquals("hello from 10.201.0.10:8080; you are 10.201.1.2:" + exchange.localAddress().getPort(), exchange.helloLine());
        assertTrue(service.peers().contains(exchange.localAddress()),
                () -> "server saw " + service.peers() + ", not " + exchange.localAddress());
    }

    @Test
    void podBReachesTheServiceToo() throws Exception {
        PodClient.Exchange exchange = PodClient.exchange(podB, service.address(), "from b".getBytes());

        assertEquals("from b", new String(exchange.echoedBytes()));
        assertEquals(InetAddress.getByName("10.201.2.2"), exchange.localAddress().getAddress());
        assertTrue(service.peers().contains(exchange.localAddress()), () -> "server saw " + service.peers());
    }

    @Test
    void podAReachesPodBThroughTheRouter() throws Exception {
        InetSocketAddress podBAddress = new InetSocketAddress(topology.pod(1).address(), 9090);
        try (EchoServer inPodB = EchoServer.start(podB, podBAddress)) {
            PodClient.Exchange exchange = PodClient.exchange(podA, podBAddress, "across".getBytes());

            assertEquals("across", new String(exchange.echoedBytes()));
            // Routed, not translated: pod-b sees pod-a's own address.
            assertEquals(List.of(exchange.localAddress()), inPodB.peers());
            assertEquals(topology.pod(0).address(), exchange.localAddress().getAddress());
        }
    }

    @Test
    void podsRouteOnlyTheTestRangeThroughTheRouter() throws Exception {
        for (PodNs pod : topology.pods()) {
            String routes = Topology.exec(pod.netnsName(), "ip", "-4", "route", "show");
            assertFalse(routes.contains("default"), pod + " has a default route: " + routes);
            assertTrue(routes.contains("10.201.0.0/16 via " + pod.gateway().getHostAddress() + " dev eth0"), routes);
            assertEquals(2, routes.strip().lines().count(), pod + " should have the range route and its /24 only: " + routes);
        }
    }

    @Test
    void routerForwardsInsideItsNamespaceAndTheRootSettingIsUntouched() throws Exception {
        assertEquals("1", Topology.exec(topology.upstream().netnsName(), "cat", "/proc/sys/net/ipv4/ip_forward").strip());
        assertEquals(rootIpForwardBefore, RootNamespace.ipForward());
    }

    @Test
    void serviceAddressesLiveOnTheRoutersLoopback() throws Exception {
        String lo = Topology.exec(topology.upstream().netnsName(), "ip", "-o", "-4", "addr", "show", "dev", "lo");
        for (int i = 0; i < Topology.SERVICE_COUNT; i++) {
            assertTrue(lo.contains(topology.serviceAddress(i).getHostAddress() + "/32"), lo);
        }
        assertEquals(List.of("10.201.0.10", "10.201.0.20", "10.201.0.30"),
                topology.upstream().serviceAddresses().stream().map(InetAddress::getHostAddress).toList());
    }

    @Test
    void execRefusesNamespacesTheTestbedDidNotCreate() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Topology.exec("default", "true"));
        assertTrue(e.getMessage().contains("only runs commands in its own namespaces"), e.getMessage());
    }

    @Test
    void aFailingCommandReportsItsCommandLineAndStderr() {
        CommandException e = assertThrows(CommandException.class,
                () -> Topology.exec(topology.pod(0).netnsName(), "ip", "link", "show", "no-such-link"));
        assertTrue(e.getMessage().contains("ip netns exec " + topology.pod(0).netnsName() + " ip link show no-such-link"), e.getMessage());
        assertTrue(e.getMessage().contains("no-such-link"), e.getMessage());
        assertTrue(e.exitStatus() > 0, e.getMessage());
    }
}
