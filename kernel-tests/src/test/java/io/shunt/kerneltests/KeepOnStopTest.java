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
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.shunt.kerneltests.KernelTestSupport.with;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --on-stop keep}, as the DaemonSet and the systemd unit run the agent: SIGTERM closes the
 * listeners but leaves every technique's rules and the state file, so the pod fails closed (its
 * connections refused, never bypassing the proxy) until a restarted agent takes it back, with one
 * set of rules and listeners, as after a SIGKILL (CrashBehaviourTest). The rules go only with an
 * explicit uninstall: here {@code shunt-agent uninstall-cni --state-file}.
 */
class KeepOnStopTest {

    @ParameterizedTest
    @EnumSource(TechniqueId.class)
    void sigtermLeavesTheRulesARestartTakesThePodBackAndUninstallRemovesThem(TechniqueId technique) throws Exception {
        Path dir = Files.createTempDirectory("shunt-ktkeep");
        try (SockmapCgroup cgroup = SockmapCgroup.enterIfNeeded(technique);
             Topology topology = Topology.create("ktkeep", 1)) {
            PodNs pod = topology.pod(0);
            Path stateFile = dir.resolve("pods.json");
            Path readyFile = dir.resolve("agent.ready");
            List<String> args = List.of("--pod", "pod-a=" + pod.netnsPath() + cgroup.podSuffix(), "--pod-technique", "pod-a=" + technique.id(),
                    "--state-file", stateFile.toString(), "--on-stop", "keep", "--ready-file", readyFile.toString());
            InetSocketAddress service = new InetSocketAddress(topology.serviceAddress(0), 8080);
            InetSocketAddress app = new InetSocketAddress(pod.address(), 8080);
            try (NetNs up = topology.upstream().open(); NetNs podNs = pod.open();
                 EchoServer upstream = EchoServer.start(up, service);
                 EchoServer appServer = EchoServer.start(podNs, app)) {
                AgentProcess first = AgentProcess.start(args, null, Duration.ofSeconds(60));
                try {
                    assertEquals(Files.readSymbolicLink(Path.of("/proc/" + first.pid() + "/ns/pid")).toString(),
                            Files.readString(readyFile).strip(), "--ready-file names the agent's PID namespace");
                    assertArrayEquals("up".getBytes(), PodClient.exchange(podNs, service, "up".getBytes()).echoedBytes());
                } finally {
                    assertEquals(0, first.stop(Duration.ofSeconds(30)), String.join("\n", first.output()));
                }
                assertFalse(Files.exists(readyFile), "the ready file goes with the agent");
                assertTrue(first.output().stream().anyMatch(l -> l.contains("rules left in place")),
                        String.join("\n", first.output()));
                assertTrue(Files.readString(stateFile).contains("pod-a"), "the state file keeps the pod");

                awaitNoListeners(pod);
                assertOneSetOfRules(pod, technique);
                assertRefused(() -> PodClient.connect(podNs, service, Duration.ofSeconds(3)), "outbound");
                assertRefused(() -> PodClient.connect(up, app, Duration.ofSeconds(3)), "inbound");

                AgentProcess second = AgentProcess.start(args, null, Duration.ofSeconds(60));
                try {
                    assertArrayEquals("again".getBytes(), PodClient.exchange(podNs, service, "again".getBytes()).echoedBytes());
                    assertArrayEquals("in".getBytes(), PodClient.exchange(up, app, "in".getBytes()).echoedBytes());
                    assertOneSetOfRules(pod, technique);
                    if (technique == TechniqueId.SOCKMAP) {
                        assertEquals(7, cgroup.programs().lines().count(), "taken back, not attached twice:\n" + cgroup.programs());
                    }
                    assertEquals(2, listeners(pod).lines().count(), "one outbound and one inbound listener:\n"
                            + listeners(pod));
                } finally {
                    assertEquals(0, second.stop(Duration.ofSeconds(30)), String.join("\n", second.output()));
                }
                awaitNoListeners(pod);
                assertOneSetOfRules(pod, technique);

                // The explicit uninstall removes what the agents left, whatever the technique.
                Path confDir = Files.createDirectory(dir.resolve("net.d"));
                Run uninstall = run(List.of("uninstall-cni", "--cni-conf-dir", confDir.toString(),
                        "--cni-backup-dir", dir.resolve("backup").toString(), "--state-file", stateFile.toString()));
                assertEquals(0, uninstall.exit(), uninstall.output());
                assertTrue(uninstall.output().contains("pod pod-a: removed Shunt's rules"), uninstall.output());
                assertEquals("", Topology.exec(pod.netnsName(), "nft", "list", "ruleset").strip());
                assertEquals("", Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "egress").strip());
                assertEquals("", Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "ingress").strip());
                assertFalse(Topology.exec(pod.netnsName(), "ip", "rule").contains("fwmark"));
                assertEquals("", cgroup.programs(), "sockmap's cgroup programs go with the uninstall");
                assertFalse(Files.exists(stateFile), "the state file goes with the uninstall");
                assertArrayEquals("direct".getBytes(), PodClient.exchange(podNs, service, "direct".getBytes()).echoedBytes());
            }
        } finally {
            KernelTestSupport.deleteRecursively(dir);
        }
    }

    /**
     * A pod follows the node's ranking; when that changed between two agents (a new --technique in
     * the ConfigMap, or technique set --default), the agent that takes the pod back installs
     * another technique over what the previous one left, in a restart after --on-stop keep and in
     * a take-over alike. What the old technique left must go, or its rules would keep diverting
     * the pod's connections to nothing (tc's hairpin to an empty SOCKMAP refuses every one).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"tc,tproxy,false", "tproxy,tc,false", "tc,redirect,true",
            "tproxy,redirect,true", "redirect,tc,true"})
    void aPodTakenBackUnderAnotherRankingKeepsNothingOfItsOldTechnique(String before, String after, boolean takeOver)
            throws Exception {
        Path dir = Files.createTempDirectory("shunt-ktkeep");
        try (Topology topology = Topology.create("ktkeepmv", 1)) {
            PodNs pod = topology.pod(0);
            List<String> args = List.of("--pod", "pod-a=" + pod.netnsPath(), "--state-file", dir.resolve("pods.json").toString(),
                    "--admin-socket", dir.resolve("admin.sock").toString(), "--on-stop", "keep");
            InetSocketAddress service = new InetSocketAddress(topology.serviceAddress(0), 8080);
            InetSocketAddress app = new InetSocketAddress(pod.address(), 8080);
            try (NetNs up = topology.upstream().open(); NetNs podNs = pod.open();
                 EchoServer upstream = EchoServer.start(up, service);
                 EchoServer appServer = EchoServer.start(podNs, app)) {
                AgentProcess first = AgentProcess.start(with(args, "--technique", before), null, Duration.ofSeconds(60));
                AgentProcess second = null;
                try {
                    assertArrayEquals("up".getBytes(), PodClient.exchange(podNs, service, "up".getBytes()).echoedBytes());
                    if (!takeOver) {
                        assertEquals(0, first.stop(Duration.ofSeconds(30)));
                        awaitNoListeners(pod);
                    }
                    List<String> next = with(args, "--technique", after);
                    second = AgentProcess.start(takeOver ? with(next, "--take-over") : next, null, Duration.ofSeconds(60));
                    if (takeOver) {
                        assertEquals(0, first.stop(Duration.ofSeconds(30)), String.join("\n", first.output()));
                        awaitListeners(pod, 2);
                    }
                    for (int i = 0; i < 5; i++) {
                        assertArrayEquals("out".getBytes(), PodClient.exchange(podNs, service, "out".getBytes(),
                                Duration.ofSeconds(5)).echoedBytes());
                        assertArrayEquals("in".getBytes(), PodClient.exchange(up, app, "in".getBytes(),
                                Duration.ofSeconds(5)).echoedBytes());
                    }
                    assertOneSetOfRules(pod, TechniqueId.fromId(after));
                } finally {
                    first.close();
                    if (second != null) {
                        assertEquals(0, second.stop(Duration.ofSeconds(30)));
                    }
                }
                // the last agent kept its rules: take them off as an uninstall would
                Run uninstall = run(List.of("uninstall-cni", "--cni-conf-dir", Files.createDirectory(dir.resolve("net.d")).toString(),
                        "--cni-backup-dir", dir.resolve("backup").toString(), "--state-file", dir.resolve("pods.json").toString()));
                assertEquals(0, uninstall.exit(), uninstall.output());
                assertEquals("", Topology.exec(pod.netnsName(), "nft", "list", "ruleset").strip());
            }
        } finally {
            KernelTestSupport.deleteRecursively(dir);
        }
    }

    /** After a take-over, until the old agent's listeners are gone and only the new one's remain. */
    private static void awaitListeners(PodNs pod, int count) throws IOException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (listeners(pod).lines().count() != count && System.nanoTime() < deadline) {
            KernelTestSupport.sleep(20);
        }
        assertEquals(count, listeners(pod).lines().count(), listeners(pod));
    }

    private static void assertOneSetOfRules(PodNs pod, TechniqueId technique) throws IOException {
        String tables = Topology.exec(pod.netnsName(), "nft", "list", "tables");
        assertEquals(technique == TechniqueId.TC || technique == TechniqueId.SOCKMAP ? 0 : 1,
                tables.lines().filter(l -> l.contains("table inet shunt")).count(), tables);
        String filters = Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "egress");
        assertEquals(technique == TechniqueId.TC ? 1 : 0,
                filters.lines().filter(l -> l.contains("shunt_eth_egres")).count(), filters); // the kernel keeps 15 characters
        String ipRules = Topology.exec(pod.netnsName(), "ip", "rule");
        assertEquals(technique == TechniqueId.TPROXY || technique == TechniqueId.TC ? 1 : 0,
                ipRules.lines().filter(l -> l.contains("fwmark")).count(), ipRules);
    }

    private static String listeners(PodNs pod) throws IOException {
        return Topology.exec(pod.netnsName(), "ss", "-Hltn", "( sport = :15001 or sport = :15006 )").strip();
    }

    /** io_uring keeps a stopped agent's listening sockets until the kernel tears its ring down. */
    private static void awaitNoListeners(PodNs pod) throws IOException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        String listening;
        do {
            listening = listeners(pod);
            if (listening.isEmpty()) {
                return;
            }
            KernelTestSupport.sleep(20);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("the stopped agent's listeners are still open after 10 s:\n" + listening);
    }

    private static void assertRefused(Connect connect, String direction) {
        IOException e = assertThrows(IOException.class, () -> connect.run().close(), direction + " connected");
        assertTrue(e instanceof ConnectException && e.getMessage().contains("refused"),
                direction + ": expected 'connection refused', got " + e);
    }

    @FunctionalInterface
    private interface Connect {
        java.nio.channels.SocketChannel run() throws IOException;
    }

    private record Run(int exit, String output) {
    }

    /** shunt-agent with {@code args} in its own process, as an operator runs it (same bpffs as the agents). */
    private static Run run(List<String> args) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(new ArrayList<>(AgentProcess.command(args))).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "shunt-agent " + args + " did not finish:\n" + output);
        return new Run(p.exitValue(), output);
    }
}
