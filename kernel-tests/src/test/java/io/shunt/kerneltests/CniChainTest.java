package io.shunt.kerneltests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shunt.agent.AgentConfig;
import io.shunt.agent.CniPods;
import io.shunt.agent.NodeAgent;
import io.shunt.agent.cni.CniEndpoint;
import io.shunt.agent.registry.ManagedPod;
import io.shunt.agent.registry.PodStore;
import io.shunt.cni.InstallLauncher;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.proxy.EngineConfig;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Shunt chained after the real CNI reference plugins (loopback, bridge with host-local), called as
 * a runtime calls them: ADD intercepts the pod, CHECK notices a removed rule, DEL removes it all,
 * ADD fails with a spec error while the agent is down, and a restarted agent keeps its pods.
 * Everything lives in namespaces the test creates; the bridge lives in a test "node" namespace.
 */
class CniChainTest {
    private static final Path REFERENCE_PLUGINS = Path.of("/usr/lib/cni");
    private static final String BRIDGE = "shuntkt0";
    private static final InetSocketAddress SERVICE = new InetSocketAddress(InetAddress.ofLiteral("10.22.255.254"), 8080);
    private static final String K8S_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1";

    private final String prefix = "shunt-ktcni-" + HexFormat.of().toHexDigits(new Random().nextInt(), 4) + "-";
    private final List<String> namespaces = new ArrayList<>();
    private Path dir;
    private Path socket;
    private CniRuntime runtime;
    private NodeAgent agent;
    private CniEndpoint endpoint;
    private EchoServer service;

    @BeforeEach
    void nodeAndPlugins() throws IOException {
        dir = Files.createTempDirectory("shunt-ktcni");
        socket = dir.resolve("run/cni.sock");
        Path pluginDir = Files.createDirectories(dir.resolve("plugins"));
        List<Path> classPath = Arrays.stream(System.getProperty("java.class.path").split(":")).map(Path::of)
                .filter(Files::exists).toList();
        InstallLauncher.install(pluginDir, Path.of(ProcessHandle.current().info().command().orElseThrow()), classPath, false);
        String node = netns("node");
        Topology.exec(node, "ip", "link", "set", "lo", "up");
        ObjectNode ipam = CniRuntime.JSON.createObjectNode().put("type", "host-local").put("subnet", "10.22.0.0/16")
                .put("dataDir", dir.resolve("ipam").toString());
        ObjectNode bridge = CniRuntime.JSON.createObjectNode().put("type", "bridge").put("bridge", BRIDGE)
                .put("isGateway", false).put("ipMasq", false);
        bridge.set("ipam", ipam);
        runtime = new CniRuntime(node, "shunt-kt", "1.0.0", List.of(
                CniRuntime.JSON.createObjectNode().put("type", "loopback"), bridge,
                CniRuntime.JSON.createObjectNode().put("type", "shunt-cni").put("agentSocket", socket.toString())
                        .put("timeoutSeconds", 20)),
                List.of(REFERENCE_PLUGINS, pluginDir));
    }

    @AfterEach
    void cleanUp() throws IOException {
        try {
            if (service != null) {
                service.close();
            }
            stopAgent();
        } finally {
            for (String ns : namespaces) {
                new ProcessBuilder("ip", "netns", "del", ns).start();
            }
            KernelTestSupport.deleteRecursively(dir);
        }
    }

    @Test
    void addInterceptsCheckNoticesARemovedRuleAndDelRemovesEverything() throws IOException {
        startAgent();
        Path pod = Path.of("/var/run/netns", netns("c1"));
        CniRuntime.Result added = runtime.add("c1", pod, K8S_ARGS);
        assertEquals(0, added.exit(), added.stdout() + added.stderr());
        JsonNode result = added.json();
        assertTrue(result.get("ips").get(0).get("address").asText().startsWith("10.22."), result.toString());
        startService();

        ManagedPod managed = agent.podByContainer("c1").orElseThrow();
        assertEquals("default/web-1", managed.name());
        try (NetNs ns = NetNs.open(pod)) {
            assertArrayEquals("via cni".getBytes(), PodClient.exchange(ns, SERVICE, "via cni".getBytes()).echoedBytes());
        }
        assertEquals(1, agent.counters("default/web-1").orElseThrow().accepted());
        assertEquals(0, runtime.check("c1", pod, K8S_ARGS, result).exit());

        // Someone removes one of Shunt's rules: CHECK must say so.
        String chain = managed.technique().id().equals("tproxy") ? "shunt_outbound_mark" : "shunt_outbound_capture";
        String listed = Topology.exec(pod.getFileName().toString(), "nft", "-a", "list", "chain", "inet", "shunt", chain);
        String handle = listed.lines().filter(l -> l.contains("fib daddr type local return")).findFirst().orElseThrow()
                .replaceAll(".*# handle (\\d+).*", "$1");
        Topology.exec(pod.getFileName().toString(), "nft", "delete", "rule", "inet", "shunt", chain, "handle", handle);
        CniRuntime.Result checked = runtime.check("c1", pod, K8S_ARGS, result);
        assertNotEquals(0, checked.exit());
        assertEquals(101, checked.json().get("code").asInt(), checked.stdout());

        for (CniRuntime.Result r : runtime.del("c1", pod, K8S_ARGS, result)) {
            assertEquals(0, r.exit(), r.stdout() + r.stderr());
        }
        assertTrue(agent.podByContainer("c1").isEmpty());
        assertEquals("", Topology.exec(pod.getFileName().toString(), "nft", "list", "ruleset").strip());
        // DEL is idempotent: again, and for a container nobody knows.
        for (CniRuntime.Result r : runtime.del("c1", pod, K8S_ARGS, result)) {
            assertEquals(0, r.exit(), r.stdout() + r.stderr());
        }
    }

    @Test
    void addWhileTheAgentIsDownFailsWithASpecErrorAndInstallsNothing() throws IOException {
        Path pod = Path.of("/var/run/netns", netns("c2"));
        CniRuntime.Result added = runtime.add("c2", pod, K8S_ARGS);
        assertNotEquals(0, added.exit());
        JsonNode error = added.json();
        assertEquals(11, error.get("code").asInt(), added.stdout());
        assertTrue(error.get("msg").asText().contains("not running"), added.stdout());
        assertEquals("", Topology.exec(pod.getFileName().toString(), "nft", "list", "ruleset").strip());
        // The runtime cleans the failed sandbox up with DEL; with the agent down, that succeeds too.
        for (CniRuntime.Result r : runtime.del("c2", pod, K8S_ARGS, null)) {
            assertEquals(0, r.exit(), r.stdout() + r.stderr());
        }
    }

    @Test
    void aRestartedAgentKeepsItsPodsInterceptedWithoutANewAdd() throws IOException {
        startAgent();
        Path pod = Path.of("/var/run/netns", netns("c3"));
        CniRuntime.Result added = runtime.add("c3", pod, "");
        assertEquals(0, added.exit(), added.stdout() + added.stderr());
        startService();

        stopAgent();
        startAgent();
        ManagedPod back = agent.podByContainer("c3").orElseThrow();
        try (NetNs ns = NetNs.open(pod)) {
            assertArrayEquals("again".getBytes(), PodClient.exchange(ns, SERVICE, "again".getBytes()).echoedBytes());
        }
        assertEquals(1, agent.counters(back.name()).orElseThrow().accepted());
        // Taken back, not added twice: one table, and for tproxy one policy-routing rule.
        String rules = Topology.exec(pod.getFileName().toString(), "nft", "list", "tables");
        assertEquals(1, rules.lines().filter(l -> l.contains("table inet shunt")).count(), rules);
        String ipRules = Topology.exec(pod.getFileName().toString(), "ip", "rule");
        assertTrue(ipRules.lines().filter(l -> l.contains("fwmark")).count() <= 1, ipRules);
        assertEquals(0, runtime.check("c3", pod, "", added.json()).exit());
        runtime.del("c3", pod, "", added.json());
    }

    @Test
    void gcReleasesOnlyThePodsOfItsOwnNetwork() throws IOException {
        startAgent();
        Path pod = Path.of("/var/run/netns", netns("c5"));
        CniRuntime.Result added = runtime.add("c5", pod, "");
        assertEquals(0, added.exit(), added.stdout() + added.stderr());
        String gc = "{\"cniVersion\":\"1.1.0\",\"name\":\"%s\",\"type\":\"shunt-cni\",\"agentSocket\":\""
                + socket + "\",\"cni.dev/valid-attachments\":[]}";
        // Another network that also chains shunt-cni collects its garbage: our pod is not its.
        assertEquals(0, runtime.execRaw("shunt-cni", "GC", "", null, "", gc.formatted("other-net")).exit());
        assertTrue(agent.podByContainer("c5").isPresent(), "GC of another network released our pod");
        // Our own network's GC with no valid attachments releases it.
        assertEquals(0, runtime.execRaw("shunt-cni", "GC", "", null, "", gc.formatted("shunt-kt")).exit());
        assertTrue(agent.podByContainer("c5").isEmpty());
        assertEquals("", Topology.exec(pod.getFileName().toString(), "nft", "list", "ruleset").strip());
        runtime.del("c5", pod, "", added.json());
    }

    @Test
    void badInputGetsTheSpecsErrorCodes() throws IOException {
        startAgent();
        Path pod = Path.of("/var/run/netns", netns("c4"));
        String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"shunt-kt\",\"type\":\"shunt-cni\",\"agentSocket\":\""
                + socket + "\",\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[]}}";
        assertCode(6, runtime.execRaw("shunt-cni", "ADD", "c4", pod, "", "{not json"));
        assertCode(1, runtime.execRaw("shunt-cni", "ADD", "c4", pod, "", conf.replace("\"1.0.0\",\"name\"", "\"9.9.9\",\"name\"")));
        assertCode(4, runtime.execRaw("shunt-cni", "ADD", "c4", null, "", conf));
        CniRuntime.Result notNetns = runtime.execRaw("shunt-cni", "ADD", "c4", Path.of("/etc/hostname"), "", conf);
        assertCode(4, notNetns);
        assertTrue(notNetns.json().get("msg").asText().contains("/etc/hostname"), notNetns.stdout());
        assertFalse(agent.podByContainer("c4").isPresent());
    }

    private static void assertCode(int code, CniRuntime.Result r) throws IOException {
        assertNotEquals(0, r.exit(), r.stdout());
        assertEquals(code, r.json().get("code").asInt(), r.stdout() + r.stderr());
    }

    private void startAgent() throws IOException {
        agent = NodeAgent.start(new AgentConfig(KernelTestSupport.NFT_RANKING, Set.of(), CapturePolicy.defaults(),
                EngineConfig.defaults(), true), new PodStore(dir.resolve("state/pods.json")));
        endpoint = CniEndpoint.start(socket, new CniPods(agent), 4, Duration.ofSeconds(30));
    }

    private void stopAgent() throws IOException {
        if (endpoint != null) {
            endpoint.close();
            endpoint = null;
        }
        if (agent != null) {
            agent.close();
            agent = null;
        }
    }

    /** The service lives in the node namespace, on the bridge the first ADD created. */
    private void startService() throws IOException {
        if (service != null) {
            return;
        }
        Topology.exec(namespaces.getFirst(), "ip", "addr", "add", "10.22.255.254/16", "dev", BRIDGE);
        try (NetNs node = NetNs.open(Path.of("/var/run/netns", namespaces.getFirst()))) {
            service = EchoServer.start(node, SERVICE);
        }
    }

    private String netns(String role) throws IOException {
        String name = KernelTestSupport.addNetns(prefix + role);
        namespaces.add(name);
        return name;
    }
}
