package io.shunt.kerneltests;

import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.TechniqueId;
import io.shunt.testbed.AgentProcess;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An agent upgraded under traffic: a new process takes the pods over ({@code --take-over}) while
 * requests stream through the pod and a long-lived connection stays open. No request fails, the
 * long-lived connection keeps flowing on the old process until it ends, the old process then exits
 * 0 without removing anything, and the new one holds exactly one set of rules and listeners.
 */
class UpgradeTest {

    @ParameterizedTest
    @EnumSource(TechniqueId.class)
    void aNewAgentTakesOverWithoutAFailedRequestOrADroppedConnection(TechniqueId technique) throws Exception {
        Path dir = Files.createTempDirectory("shunt-ktupgrade");
        try (SockmapCgroup cgroup = SockmapCgroup.enterIfNeeded(technique);
             Topology topology = Topology.create("ktupgrade", 1)) {
            PodNs pod = topology.pod(0);
            InetSocketAddress service = new InetSocketAddress(topology.serviceAddress(0), 8080);
            List<String> args = List.of("--pod", "pod-a=" + pod.netnsPath() + cgroup.podSuffix(),
                    "--pod-technique", "pod-a=" + technique.id(), "--state-file", dir.resolve("pods.json").toString(),
                    "--admin-socket", dir.resolve("admin.sock").toString(), "--cni-socket", dir.resolve("cni.sock").toString(),
                    "--log-connections");
            try (NetNs up = topology.upstream().open(); NetNs podNs = pod.open();
                 EchoServer upstream = EchoServer.start(up, service)) {
                AgentProcess old = AgentProcess.start(args, null, Duration.ofSeconds(60));
                AgentProcess[] successor = new AgentProcess[1];
                try {
                    Requests requests = Requests.start(podNs, service);
                    try (SocketChannel longLived = PodClient.connect(podNs, service, Duration.ofSeconds(10))) {
                        longLived.socket().setSoTimeout(10_000);
                        InputStream in = longLived.socket().getInputStream();
                        while (in.read() != '\n') {
                            // the greeting
                        }
                        roundTrip(longLived, in, "before");
                        requests.awaitSuccesses(20);

                        List<String> takeOver = new java.util.ArrayList<>(args);
                        takeOver.add("--take-over");
                        successor[0] = AgentProcess.start(takeOver, null, Duration.ofSeconds(60));

                        long atTakeOver = requests.successes();
                        assertTrue(KernelTestSupport.await(Duration.ofSeconds(15), () -> requests.successes() > atTakeOver + 20),
                                "requests keep succeeding after the take-over");
                        assertNotNull(successor[0].nextConnection(Duration.ofSeconds(10)), "the new agent serves new connections");
                        for (int i = 0; i < 10; i++) {
                            roundTrip(longLived, in, "during drain " + i);
                        }
                        assertTrue(old.output().stream().anyMatch(l -> l.contains("handed 1 pod(s) over")), String.join("\n", old.output()));
                    }
                    // The long-lived connection ended: the old agent has drained and goes, leaving the rules.
                    assertEquals(0, old.stop(Duration.ofSeconds(30)), String.join("\n", old.output()));
                    requests.close();
                    assertEquals(0, requests.failures(), "failed requests during the upgrade: " + requests.lastFailure());
                    assertEquals(0, requests.hung(), "hung requests during the upgrade");

                    String tables = Topology.exec(pod.netnsName(), "nft", "list", "tables");
                    assertEquals(technique == TechniqueId.TC || technique == TechniqueId.SOCKMAP ? 0 : 1,
                            tables.lines().filter(l -> l.contains("table inet shunt")).count(), tables);
                    String filters = Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "egress");
                    assertEquals(technique == TechniqueId.TC ? 1 : 0,
                            filters.lines().filter(l -> l.contains("shunt_eth_egres")).count(), filters); // the kernel keeps 15 characters
                    String listening = Topology.exec(pod.netnsName(), "ss", "-Hltn", "( sport = :15001 or sport = :15006 )");
                    assertEquals(2, listening.strip().lines().count(), "only the new agent's two listeners:\n" + listening);
                    if (technique == TechniqueId.SOCKMAP) {
                        // both agents run in the test's group: five pod programs and the agent's two, once each
                        assertEquals(7, cgroup.programs().lines().count(), cgroup.programs());
                    }
                    assertArrayEquals("after".getBytes(), PodClient.exchange(podNs, service, "after".getBytes()).echoedBytes());

                    assertEquals(0, successor[0].stop(Duration.ofSeconds(30)));
                    assertEquals("", cgroup.programs(), "the new agent's stop leaves no program on the pod's cgroup");
                    assertEquals("", Topology.exec(pod.netnsName(), "nft", "list", "ruleset").strip());
                    assertEquals("", Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "egress").strip());
                } finally {
                    // Whatever failed above, no agent outlives the test.
                    old.close();
                    if (successor[0] != null) {
                        successor[0].close();
                    }
                }
            }
        } finally {
            KernelTestSupport.deleteRecursively(dir);
        }
    }

    /**
     * The kubelet deletes the old pod once the new one is ready: a SIGTERM to the old agent after
     * the hand-over must neither remove anything (even with the default --on-stop remove) nor cut
     * its drain short: its open connection keeps flowing, and it exits 0 once that has ended.
     */
    @org.junit.jupiter.api.Test
    void aSigtermAfterTheHandOverRemovesNothingAndLetsTheOpenConnectionFinish() throws Exception {
        Path dir = Files.createTempDirectory("shunt-ktupgrade");
        try (Topology topology = Topology.create("ktupsig", 1)) {
            PodNs pod = topology.pod(0);
            InetSocketAddress service = new InetSocketAddress(topology.serviceAddress(0), 8080);
            List<String> args = List.of("--pod", "pod-a=" + pod.netnsPath(), "--pod-technique", "pod-a=tproxy",
                    "--state-file", dir.resolve("pods.json").toString(), "--admin-socket", dir.resolve("admin.sock").toString());
            try (NetNs up = topology.upstream().open(); NetNs podNs = pod.open();
                 EchoServer upstream = EchoServer.start(up, service)) {
                AgentProcess old = AgentProcess.start(args, null, Duration.ofSeconds(60));
                AgentProcess successor = null;
                try {
                    java.util.concurrent.CompletableFuture<Integer> oldExit;
                    try (SocketChannel longLived = PodClient.connect(podNs, service, Duration.ofSeconds(10))) {
                        longLived.socket().setSoTimeout(10_000);
                        InputStream in = longLived.socket().getInputStream();
                        while (in.read() != '\n') {
                            // the greeting
                        }
                        roundTrip(longLived, in, "before");
                        List<String> takeOver = new java.util.ArrayList<>(args);
                        takeOver.add("--take-over");
                        successor = AgentProcess.start(takeOver, null, Duration.ofSeconds(60));

                        oldExit = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                            try {
                                return old.stop(Duration.ofSeconds(60));
                            } catch (IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                        });
                        assertTrue(KernelTestSupport.await(Duration.ofSeconds(10), () -> old.output().stream()
                                .anyMatch(l -> l.contains("stopping after the hand-over"))), String.join("\n", old.output()));
                        for (int i = 0; i < 5; i++) {
                            roundTrip(longLived, in, "after SIGTERM " + i);
                        }
                        assertFalse(oldExit.isDone(), "the old agent waits for its open connection");
                    }
                    assertEquals(0, oldExit.get(30, java.util.concurrent.TimeUnit.SECONDS), String.join("\n", old.output()));

                    String tables = Topology.exec(pod.netnsName(), "nft", "list", "tables");
                    assertEquals(1, tables.lines().filter(l -> l.contains("table inet shunt")).count(), tables);
                    String ipRules = Topology.exec(pod.netnsName(), "ip", "rule");
                    assertEquals(1, ipRules.lines().filter(l -> l.contains("fwmark")).count(), ipRules);
                    assertArrayEquals("after".getBytes(), PodClient.exchange(podNs, service, "after".getBytes()).echoedBytes());
                    assertEquals(0, successor.stop(Duration.ofSeconds(30)));
                    assertEquals("", Topology.exec(pod.netnsName(), "nft", "list", "ruleset").strip());
                } finally {
                    old.close();
                    if (successor != null) {
                        successor.close();
                    }
                }
            }
        } finally {
            KernelTestSupport.deleteRecursively(dir);
        }
    }

    private static void roundTrip(SocketChannel ch, InputStream in, String text) throws IOException {
        ch.write(ByteBuffer.wrap(text.getBytes()));
        assertArrayEquals(text.getBytes(), in.readNBytes(text.length()), "the long-lived connection: " + text);
    }

    /** New connections in a loop from the pod, each bounded, counted by outcome. */
    private static final class Requests implements AutoCloseable {
        private final AtomicLong successes = new AtomicLong();
        private final AtomicLong failures = new AtomicLong();
        private final AtomicLong hung = new AtomicLong();
        private volatile String lastFailure = "";
        private volatile boolean running = true;
        private Thread thread;

        static Requests start(NetNs pod, InetSocketAddress service) {
            Requests r = new Requests();
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            r.thread = Thread.ofPlatform().daemon().name("upgrade-requests").start(() -> {
                while (r.running && System.nanoTime() < deadline) {
                    try {
                        byte[] got = PodClient.exchange(pod, service, "ping".getBytes(), Duration.ofSeconds(5)).echoedBytes();
                        if (new String(got).equals("ping")) {
                            r.successes.incrementAndGet();
                        } else {
                            r.failures.incrementAndGet();
                            r.lastFailure = "echoed '" + new String(got) + "'";
                        }
                    } catch (java.net.SocketTimeoutException e) {
                        r.hung.incrementAndGet();
                    } catch (IOException e) {
                        r.failures.incrementAndGet();
                        r.lastFailure = e.toString();
                    }
                }
            });
            return r;
        }

        void awaitSuccesses(long n) {
            assertTrue(KernelTestSupport.await(Duration.ofSeconds(20), () -> successes.get() >= n),
                    "the requests did not get going: " + successes + " ok, " + failures + " failed: " + lastFailure);
        }

        long successes() {
            return successes.get();
        }

        long failures() {
            return failures.get();
        }

        long hung() {
            return hung.get();
        }

        String lastFailure() {
            return lastFailure;
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.join(Duration.ofSeconds(10));
        }
    }
}
