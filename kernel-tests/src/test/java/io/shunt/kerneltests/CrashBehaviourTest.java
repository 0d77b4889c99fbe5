package io.shunt.kerneltests;

import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.Hijacker;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.redirect.RedirectHijacker;
import io.shunt.hijack.sockmap.SockmapHijacker;
import io.shunt.hijack.tc.TcHijacker;
import io.shunt.hijack.tproxy.TproxyHijacker;
import io.shunt.testbed.AgentProcess;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a pod sees when the agent dies without cleaning up (SIGKILL, OOM kill): its rules stay,
 * its listeners are gone. Every technique must then fail closed and visibly, with connections
 * refused in both directions, never hung and never silently bypassing the proxy.
 */
class CrashBehaviourTest {


    @ParameterizedTest
    @EnumSource(TechniqueId.class)
    void afterSigkillThePodsConnectionsAreRefusedNotHung(TechniqueId technique) throws Exception {
        try (SockmapCgroup cgroup = SockmapCgroup.enterIfNeeded(technique);
             Topology topology = Topology.create("ktcrash", 1)) {
            PodNs pod = topology.pod(0);
            InetSocketAddress service = new InetSocketAddress(topology.serviceAddress(0), 8080);
            InetSocketAddress app = new InetSocketAddress(pod.address(), 8080);
            try (NetNs up = topology.upstream().open(); NetNs podNs = pod.open();
                 EchoServer upstream = EchoServer.start(up, service);
                 EchoServer appServer = EchoServer.start(podNs, app)) {
                AgentProcess agent = AgentProcess.start(List.of("--pod", "pod-a=" + pod.netnsPath()
                        + cgroup.podSuffix(), "--pod-technique", "pod-a=" + technique.id()), null, Duration.ofSeconds(60));
                try {
                    assertArrayEquals("up".getBytes(), PodClient.exchange(podNs, service, "up".getBytes()).echoedBytes());
                } finally {
                    agent.kill();
                }
                // io_uring keeps the listening sockets alive until the kernel tears the dead process's
                // ring down, shortly after the process itself is gone: wait for that, bounded.
                awaitNoListeners(pod);
                try {
                    // A short timeout: a refusal is immediate, a black hole would only time out.
                    assertRefused(() -> PodClient.connect(podNs, service, Duration.ofSeconds(3)), "outbound");
                    assertRefused(() -> PodClient.connect(up, app, Duration.ofSeconds(3)), "inbound");
                } finally {
                    hijacker(technique).remove(podNs);
                }
                assertEquals("", cgroup.programs(), "removal leaves no program on the pod's cgroup");
                assertArrayEquals("direct".getBytes(), PodClient.exchange(podNs, service, "direct".getBytes()).echoedBytes());
            }
        }
    }

    /**
     * SIGKILL while a stream of requests runs through the pod: requests fail (refused, never hung)
     * until a new agent started with the same state file takes the pod back, and then succeed
     * again with exactly one set of rules and one pair of listeners: nothing duplicated or leaked.
     */
    @ParameterizedTest
    @EnumSource(TechniqueId.class)
    void aKilledAgentUnderLoadRecoversFullyOnRestartWithNothingDuplicated(TechniqueId technique) throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("shunt-ktcrash");
        try (SockmapCgroup cgroup = SockmapCgroup.enterIfNeeded(technique);
             Topology topology = Topology.create("ktcrashload", 1)) {
            List<String> args = List.of("--pod", "pod-a=" + "%s" + cgroup.podSuffix(), "--pod-technique",
                    "pod-a=" + technique.id(), "--state-file", dir.resolve("pods.json").toString());
            PodNs pod = topology.pod(0);
            List<String> agentArgs = args.stream().map(a -> a.replace("%s", pod.netnsPath().toString())).toList();
            InetSocketAddress service = new InetSocketAddress(topology.serviceAddress(0), 8080);
            try (NetNs up = topology.upstream().open(); NetNs podNs = pod.open();
                 EchoServer upstream = EchoServer.start(up, service)) {
                AgentProcess first = AgentProcess.start(agentArgs, null, Duration.ofSeconds(60));
                Load load = Load.start(podNs, service);
                try {
                    load.awaitSuccesses(20);
                    first.kill();
                    awaitNoListeners(pod);
                    long failedBefore = load.failures();
                    assertTrue(KernelTestSupport.await(Duration.ofSeconds(10), () -> load.failures() > failedBefore + 3),
                            "with the agent dead, requests must fail fast (refused), not succeed around the proxy");
                    assertTrue(load.hung() == 0, "no request may hang while the agent is dead");
                    assertRefused(() -> PodClient.connect(podNs, service, Duration.ofSeconds(3)), "outbound");

                    AgentProcess second = AgentProcess.start(agentArgs, null, Duration.ofSeconds(60));
                    try {
                        long okBefore = load.successes();
                        assertTrue(KernelTestSupport.await(Duration.ofSeconds(10), () -> load.successes() > okBefore + 20),
                                "requests succeed again once the restarted agent took the pod back");
                        String rules = Topology.exec(pod.netnsName(), "nft", "list", "tables");
                        assertEquals(technique == TechniqueId.TC || technique == TechniqueId.SOCKMAP ? 0 : 1,
                                rules.lines().filter(l -> l.contains("table inet shunt")).count(), rules);
                        String filters = Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "egress");
                        assertEquals(technique == TechniqueId.TC ? 1 : 0,
                                filters.lines().filter(l -> l.contains("shunt_eth_egres")).count(), filters);
                        String ipRules = Topology.exec(pod.netnsName(), "ip", "rule");
                        assertTrue(ipRules.lines().filter(l -> l.contains("fwmark")).count()
                                == (technique == TechniqueId.TPROXY || technique == TechniqueId.TC ? 1 : 0), ipRules);
                        String listening = Topology.exec(pod.netnsName(), "ss", "-Hltn",
                                "( sport = :15001 or sport = :15006 )");
                        assertEquals(2, listening.strip().lines().count(), "one outbound and one inbound listener:\n"
                                + listening);
                        if (technique == TechniqueId.SOCKMAP) {
                            // five pod programs and the agent's two, once each
                            assertEquals(7, cgroup.programs().lines().count(), cgroup.programs());
                        }
                    } finally {
                        load.close();
                        assertEquals(0, second.stop(Duration.ofSeconds(30)));
                    }
                } finally {
                    load.close();
                    first.kill();
                }
                assertEquals("", Topology.exec(pod.netnsName(), "nft", "list", "ruleset").strip(),
                        "SIGTERM of the restarted agent removes everything");
                assertEquals("", Topology.exec(pod.netnsName(), "ss", "-Hltn", "( sport = :15001 or sport = :15006 )").strip());
            }
        } finally {
            KernelTestSupport.deleteRecursively(dir);
        }
    }

    /** Requests in a loop from the pod, each bounded by a short timeout, counted by outcome. */
    private static final class Load implements AutoCloseable {
        private final java.util.concurrent.atomic.AtomicLong successes = new java.util.concurrent.atomic.AtomicLong();
        private final java.util.concurrent.atomic.AtomicLong failures = new java.util.concurrent.atomic.AtomicLong();
        private final java.util.concurrent.atomic.AtomicLong hung = new java.util.concurrent.atomic.AtomicLong();
        private volatile boolean running = true;
        private Thread thread;

        static Load start(NetNs pod, InetSocketAddress service) {
            Load load = new Load();
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            load.thread = Thread.ofPlatform().daemon().name("crash-load").start(() -> {
                while (load.running && System.nanoTime() < deadline) {
                    try {
                        PodClient.exchange(pod, service, "ping".getBytes(), Duration.ofSeconds(2));
                        load.successes.incrementAndGet();
                    } catch (java.net.SocketTimeoutException e) {
                        load.hung.incrementAndGet();
                    } catch (IOException e) {
                        load.failures.incrementAndGet();
                        KernelTestSupport.sleep(10);
                    }
                }
            });
            return load;
        }

        void awaitSuccesses(long n) {
            assertTrue(KernelTestSupport.await(Duration.ofSeconds(20), () -> successes.get() >= n),
                    "the load did not get going: " + successes + " ok, " + failures + " failed");
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

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.join(Duration.ofSeconds(10));
        }
    }

    private static void awaitNoListeners(PodNs pod) throws IOException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        String listening;
        do {
            listening = Topology.exec(pod.netnsName(), "ss", "-Hltn", "( sport = :15001 or sport = :15006 )").strip();
            if (listening.isEmpty()) {
                return;
            }
            KernelTestSupport.sleep(20);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("the dead agent's listeners are still open after 10 s:\n" + listening);
    }

    private static void assertRefused(Connect connect, String direction) {
        IOException e = assertThrows(IOException.class, () -> connect.run().close(), direction + " connected");
        assertTrue(e instanceof ConnectException && e.getMessage().contains("refused"),
                direction + ": expected 'connection refused', got " + e);
    }

    private static Hijacker hijacker(TechniqueId technique) {
        return switch (technique) {
            case REDIRECT -> new RedirectHijacker();
            case TPROXY -> new TproxyHijacker();
            case TC -> new TcHijacker();
            case SOCKMAP -> new SockmapHijacker();
        };
    }

    @FunctionalInterface
    private interface Connect {
        java.nio.channels.SocketChannel run() throws IOException;
    }
}
