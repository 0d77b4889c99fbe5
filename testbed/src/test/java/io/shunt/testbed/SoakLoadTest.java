package io.shunt.testbed;

import io.shunt.ffi.netns.NetNs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The soak's load generator against the real HttpServer in a one-pod topology, without the agent. */
class SoakLoadTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private static Topology topology;
    private static NetNs up;
    private static NetNs pod;

    @BeforeAll
    static void build() throws Exception {
        topology = Topology.create("kt", 1);
        up = topology.upstream().open();
        pod = topology.pod(0).open();
    }

    @AfterAll
    static void tearDown() throws Exception {
        Closing.inOrder(pod, up, topology);
    }

    @Test
    void everyResponseMatchesTheServersBytesAndEveryConnectionCloses() throws Exception {
        InetSocketAddress address = new InetSocketAddress(topology.serviceAddress(2), 8090);
        try (HttpServer server = HttpServer.start(up, address, 200);
             SoakLoad load = new SoakLoad(List.of(pod), address, 20, 20, Duration.ofMillis(100), TIMEOUT)) {
            load.start();
            waitFor(() -> load.poolOpen() == 20, "the pool to open");
            load.startChurn();
            Thread.sleep(1500);
            load.closeAllConnections();
            waitFor(() -> load.poolOpen() == 0 && load.churnInFlight() == 0, "every connection to close");

            SoakLoad.Snapshot s = load.snapshot();
            assertEquals(List.of(), load.failureExamples());
            assertEquals(0, s.failures());
            assertNull(load.crashed());
            assertEquals(20, s.poolConnects());
            // 20 connections at 10 requests/s for 1.5 s, and about 30 churn connections: bounded well below either rate.
            assertTrue(s.requestsOk() >= 100 && s.requestsOk() <= 20 * 10 * 3, "requests " + s.requestsOk());
            assertTrue(s.churnOk() >= 10 && s.churnOk() <= 60, "churn " + s.churnOk());
            assertEquals(s.requestsOk(), s.requestNanos().length);
            assertEquals(s.churnOk(), s.churnNanos().length);
            // Exchanges cut short by closeAllConnections may have been answered, or accepted, without being counted.
            long answered = server.requests();
            assertTrue(answered >= s.requestsOk() + s.churnOk() && answered <= s.requestsOk() + s.churnOk() + 40,
                    "server answered " + answered);
            assertTrue(server.accepted() >= 20 + s.churnOk(), "server accepted " + server.accepted());
        }
    }

    @Test
    void refusedConnectsAreFailuresAndRetriedNoFasterThanTheRetryDelay() throws Exception {
        InetSocketAddress nobody = new InetSocketAddress(topology.serviceAddress(2), 8091);
        try (SoakLoad load = new SoakLoad(List.of(pod), nobody, 5, 0, Duration.ofMillis(100), TIMEOUT)) {
            load.start();
            Thread.sleep(2500);
            SoakLoad.Snapshot s = load.snapshot();
            assertEquals(0, s.poolConnects());
            // Right away, after 1 s and after 2 s: three rounds of five, never a storm.
            assertTrue(s.requestFailures() >= 10 && s.requestFailures() <= 15, "failures " + s.requestFailures());
            assertTrue(load.failureExamples().getFirst().contains("Connection refused"), load.failureExamples().toString());
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }
}
