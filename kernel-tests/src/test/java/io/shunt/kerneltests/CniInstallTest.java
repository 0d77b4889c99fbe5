package io.shunt.kerneltests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shunt.cni.InstallLauncher;
import io.shunt.ffi.netns.NetNs;
import io.shunt.testbed.AgentProcess;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent process installs itself into the node's CNI configuration the way a DaemonSet does:
 * it chains shunt-cni into the primary conflist, a runtime that reads that file gets pods
 * intercepted (or skipped, for an opted-out namespace), a primary CNI rewriting the file gets it
 * put back, a stopped agent leaves the entry so that new pods wait, and {@code uninstall-cni}
 * restores the primary's own configuration.
 */
class CniInstallTest {
    private static final Path REFERENCE_PLUGINS = Path.of("/usr/lib/cni");
    private static final String BRIDGE = "shuntkti0";
    private static final InetSocketAddress SERVICE = new InetSocketAddress(InetAddress.ofLiteral("10.24.255.254"), 8080);
    private static final String PRIMARY = """
            {
              "cniVersion": "1.0.0",
              "name": "shunt-kt-install",
              "plugins": [
                {"type": "loopback"},
                {"type": "bridge", "bridge": "%s", "isGateway": false, "ipMasq": false,
                 "ipam": {"type": "host-local", "subnet": "10.24.0.0/16", "dataDir": "%s"}}
              ]
            }
            """;
    private static final Duration WAIT = Duration.ofSeconds(20);

    private final String prefix = "shunt-ktinst-" + HexFormat.of().toHexDigits(new Random().nextInt(), 4) + "-";
    private final List<String> namespaces = new ArrayList<>();
    private Path dir;
    private Path confDir;
    private Path conflist;
    private Path backupDir;
    private Path pluginDir;
    private String primary;
    private String node;
    private AgentProcess agent;
    private EchoServer service;

    @BeforeEach
    void node() throws IOException {
        dir = Files.createTempDirectory("shunt-ktinst");
        confDir = Files.createDirectories(dir.resolve("net.d"));
        backupDir = dir.resolve("backup");
        pluginDir = Files.createDirectories(dir.resolve("bin"));
        List<Path> classPath = Arrays.stream(System.getProperty("java.class.path").split(":")).map(Path::of)
                .filter(Files::exists).toList();
        InstallLauncher.install(pluginDir, Path.of(ProcessHandle.current().info().command().orElseThrow()), classPath, false);
        node = netns("node");
        Topology.exec(node, "ip", "link", "set", "lo", "up");
        primary = PRIMARY.formatted(BRIDGE, dir.resolve("ipam"));
        conflist = Files.writeString(confDir.resolve("10-shunt-kt.conflist"), primary);
    }

    @AfterEach
    void cleanUp() throws IOException {
        try {
            if (service != null) {
                service.close();
            }
            if (agent != null) {
                agent.close();
            }
        } finally {
            for (String ns : namespaces) {
                new ProcessBuilder("ip", "netns", "del", ns).start();
            }
            KernelTestSupport.deleteRecursively(dir);
        }
    }

    @Test
    void chainsRepairsSkipsOptedOutPodsFailsClosedWhenStoppedAndUninstallsCleanly() throws Exception {
        Path socket = dir.resolve("run/cni.sock");
        agent = AgentProcess.start(List.of("--cni-socket", socket.toString(), "--cni-conf-dir", confDir.toString(),
                "--cni-backup-dir", backupDir.toString(), "--skip-namespace", "kube-system", "--log-connections"),
                null, Duration.ofSeconds(60));
        JsonNode chained = CniRuntime.JSON.readTree(conflist.toFile());
        assertEquals("shunt-cni", chained.at("/plugins/2/type").asText(), chained.toString());
        assertEquals(socket.toString(), chained.at("/plugins/2/agentSocket").asText());
        assertEquals(primary, Files.readString(backupDir.resolve(conflist.getFileName())));

        // A runtime that reads the node's configuration now intercepts pods.
        CniRuntime runtime = runtimeFrom(conflist);
        Path web = pod("web");
        CniRuntime.Result addedWeb = runtime.add("web", web, "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1");
        assertEquals(0, addedWeb.exit(), addedWeb.stdout() + addedWeb.stderr());
        startService();
        assertEchoed(web, "intercepted");
        String connection = agent.nextConnection(WAIT);
        assertNotNull(connection, "the agent logged no connection for pod default/web-1: " + agent.output());
        assertTrue(connection.contains("pod=default/web-1"), connection);

        // An opted-out namespace starts normally, without Shunt: no rules, traffic goes direct.
        Path dns = pod("dns");
        CniRuntime.Result addedDns = runtime.add("dns", dns, "IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-1");
        assertEquals(0, addedDns.exit(), addedDns.stdout() + addedDns.stderr());
        assertEquals("", Topology.exec(dns.getFileName().toString(), "nft", "list", "ruleset").strip());
        assertEchoed(dns, "direct");
        assertTrue(agent.output().stream().anyMatch(l -> l.contains("pod=kube-system/coredns-1")
                && l.contains("skipped") && l.contains("namespace kube-system is opted out")), String.join("\n", agent.output()));
        assertEquals(0, runtime.check("dns", dns, "IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-1",
                addedDns.json()).exit(), "CHECK of a skipped pod is not a failure");

        // The primary CNI rewrites its configuration (e.g. its own upgrade): Shunt is put back.
        Files.writeString(conflist, primary);
        awaitChained();

        // A stopped agent leaves the entry: pods created now wait ("try again later"), not run bare.
        assertEquals(0, agent.stop(WAIT));
        agent = null;
        assertEquals("shunt-cni", CniRuntime.JSON.readTree(conflist.toFile()).at("/plugins/2/type").asText());
        Path late = pod("late");
        CniRuntime.Result addedLate = runtimeFrom(conflist).add("late", late, "");
        assertEquals(11, addedLate.json().get("code").asInt(), addedLate.stdout());
        runtime.del("late", late, "", null);

        // Uninstall restores the primary's own chain and removes the backup.
        Process uninstall = new ProcessBuilder(AgentProcess.command(List.of("uninstall-cni", "--cni-conf-dir",
                confDir.toString(), "--cni-backup-dir", backupDir.toString()))).redirectErrorStream(true).start();
        String said = new String(uninstall.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(uninstall.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, uninstall.exitValue(), said);
        assertTrue(said.contains("removed shunt-cni from"), said);
        assertEquals(CniRuntime.JSON.readTree(primary), CniRuntime.JSON.readTree(conflist.toFile()));
        assertFalse(Files.exists(backupDir));
        for (String pod : List.of("web", "dns")) {
            runtime.del(pod, Path.of("/var/run/netns", prefix + pod), "", null);
        }
    }

    private void awaitChained() throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            String now = Files.readString(conflist);
            if (now.contains("shunt-cni")) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the agent did not chain shunt-cni back within " + WAIT.toSeconds()
                        + " s; the file is:\n" + now + "\nagent output:\n" + String.join("\n", agent.output()));
            }
            Thread.sleep(20);
        }
    }

    /** The chain as a runtime builds it: from the file in the configuration directory. */
    private CniRuntime runtimeFrom(Path file) throws IOException {
        JsonNode list = CniRuntime.JSON.readTree(file.toFile());
        List<ObjectNode> plugins = new ArrayList<>();
        ((ArrayNode) list.get("plugins")).forEach(p -> plugins.add((ObjectNode) p));
        return new CniRuntime(node, list.get("name").asText(), list.get("cniVersion").asText(), plugins,
                List.of(REFERENCE_PLUGINS, pluginDir));
    }

    private void assertEchoed(Path pod, String text) throws IOException {
        try (NetNs ns = NetNs.open(pod)) {
            assertArrayEquals(text.getBytes(), PodClient.exchange(ns, SERVICE, text.getBytes()).echoedBytes());
        }
    }

    /** The service lives in the node namespace, on the bridge the first ADD created. */
    private void startService() throws IOException {
        Topology.exec(node, "ip", "addr", "add", "10.24.255.254/16", "dev", BRIDGE);
        try (NetNs ns = NetNs.open(Path.of("/var/run/netns", node))) {
            service = EchoServer.start(ns, SERVICE);
        }
    }

    private Path pod(String role) throws IOException {
        return Path.of("/var/run/netns", netns(role));
    }

    private String netns(String role) throws IOException {
        String name = KernelTestSupport.addNetns(prefix + role);
        namespaces.add(name);
        return name;
    }
}
