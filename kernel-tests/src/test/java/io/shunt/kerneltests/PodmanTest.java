package io.shunt.kerneltests;

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
import io.shunt.hijack.select.Selector;
import io.shunt.proxy.EngineConfig;
import io.shunt.proxy.PodCounters;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real container runtime drives Shunt: podman 4 (CNI backend, runc) starts a busybox container
 * on a CNI network that chains {@code shunt-cni} after {@code bridge}; the container's first act
 * is a TCP connection to a service on the bridge, and the in-process agent must have intercepted
 * it (so ADD finished before the workload ran) and relayed every byte. Removing the container must
 * reach the agent as DEL and leave nothing behind.
 *
 * <p>Everything lives in what the test creates: the bridge and service in a "node" namespace
 * ({@code shunt-ktpod-*}), podman's storage, state and runc root in a temp dir, the container's
 * cgroups under {@code /shunt-ktpod-*}. podman's DEL may come asynchronously from
 * {@code podman container cleanup}, so the release is awaited, bounded.
 */
class PodmanTest {
    private static final Path REFERENCE_PLUGINS = Path.of("/usr/lib/cni");
    private static final Path CGROUPS = Path.of("/sys/fs/cgroup");
    private static final String SUBNET = "10.23.0.0/16";
    private static final InetSocketAddress SERVICE = new InetSocketAddress(InetAddress.ofLiteral("10.23.255.254"), 8080);
    private static final Duration RELEASE_LIMIT = Duration.ofSeconds(20);
    private static final int PAYLOAD_BYTES = 64 * 1024;

    private final String hex = HexFormat.of().toHexDigits(new Random().nextInt(), 4);
    private final String prefix = "shunt-ktpod-" + hex;
    private final String network = prefix;
    private final String bridge = "shuntpod" + hex;
    private final boolean cniDirExisted = Files.exists(Podman.CNI_RESULTS.getParent());
    private final List<Path> containerNetns = new ArrayList<>();
    private final List<String> containerIds = new ArrayList<>();
    private String nodeNs;
    private Path dir;
    private Podman podman;
    private NodeAgent agent;
    private CniEndpoint endpoint;
    private EchoServer service;

    @BeforeEach
    void node() throws IOException {
        String missing = Podman.unavailable().orElse(null);
        assumeTrue(missing == null, () -> "skipping the podman test: " + missing);
        dir = Files.createTempDirectory("shunt-ktpod");
        nodeNs = prefix + "-node";
        run(true, "ip", "netns", "add", nodeNs);
        Topology.exec(nodeNs, "ip", "link", "set", "lo", "up");
        // The bridge plugin adopts an existing bridge of its name: made here, the service can listen
        // on it before the first container starts. isGateway:false leaves its address alone.
        Topology.exec(nodeNs, "ip", "link", "add", bridge, "type", "bridge");
        Topology.exec(nodeNs, "ip", "addr", "add", SERVICE.getAddress().getHostAddress() + "/16", "dev", bridge);
        Topology.exec(nodeNs, "ip", "link", "set", bridge, "up");
        try (NetNs node = NetNs.open(Path.of("/var/run/netns", nodeNs))) {
            service = EchoServer.start(node, SERVICE);
        }

        Path pluginDir = Files.createDirectories(dir.resolve("plugins"));
        List<Path> classPath = Arrays.stream(System.getProperty("java.class.path").split(":")).map(Path::of)
                .filter(Files::exists).toList();
        InstallLauncher.install(pluginDir, Path.of(ProcessHandle.current().info().command().orElseThrow()), classPath, false);
        Path socket = dir.resolve("run-agent/cni.sock");
        agent = NodeAgent.start(new AgentConfig(Selector.DEFAULT_RANKING, Set.of(), CapturePolicy.defaults(),
                EngineConfig.defaults(), true), new PodStore(dir.resolve("state/pods.json")));
        endpoint = CniEndpoint.start(socket, new CniPods(agent), 4, Duration.ofSeconds(30));

        ObjectNode ipam = CniRuntime.JSON.createObjectNode().put("type", "host-local").put("subnet", SUBNET)
                .put("dataDir", dir.resolve("ipam").toString());
        ObjectNode bridgePlugin = CniRuntime.JSON.createObjectNode().put("type", "bridge").put("bridge", bridge)
                .put("isGateway", false).put("ipMasq", false);
        bridgePlugin.set("ipam", ipam);
        // No loopback plugin: podman brings lo up itself.
        ObjectNode shunt = CniRuntime.JSON.createObjectNode().put("type", "shunt-cni").put("agentSocket", socket.toString())
                .put("timeoutSeconds", 20);
        podman = Podman.create(dir, nodeNs, network, List.of(bridgePlugin, shunt), List.of(REFERENCE_PLUGINS, pluginDir));
    }

    @AfterEach
    void cleanUp() throws IOException {
        if (dir == null) {
            return;
        }
        List<String> leftovers = new ArrayList<>();
        try {
            if (podman != null) {
                // Our storage holds only this test's containers, so --all is ours alone.
                Podman.Result rm = podman.run("rm", "--all", "--force", "--time", "0");
                if (rm.exit() != 0) {
                    leftovers.add("podman rm --all failed: " + rm.stderr().strip());
                }
            }
        } finally {
            if (service != null) {
                service.close();
            }
            if (endpoint != null) {
                endpoint.close();
            }
            if (agent != null) {
                agent.close();
            }
            leftovers.addAll(removeWhatPodmanLeft());
            if (nodeNs != null) {
                run(false, "ip", "netns", "del", nodeNs);
                if (Files.exists(Path.of("/var/run/netns", nodeNs))) {
                    leftovers.add("netns " + nodeNs);
                }
            }
            leftovers.addAll(removeTestDir());
        }
        assertTrue(leftovers.isEmpty(), "the podman test left behind: " + leftovers);
    }

    @Test
    void aContainersConnectionIsInterceptedFromItsStartAndItsRemovalReleasesThePod() throws IOException {
        Path exchange = Files.createDirectories(dir.resolve("exchange"));
        byte[] payload = new byte[PAYLOAD_BYTES];
        new Random().nextBytes(payload);
        Files.write(exchange.resolve("payload"), payload);
        String name = prefix + "-c1";
        // The workload's first act is the connection: were ADD not finished before it started, it
        // would go out un-intercepted. Then it stays up so the agent's counters can be read.
        String script = "nc -w 5 " + SERVICE.getAddress().getHostAddress() + " " + SERVICE.getPort()
                + " </exchange/payload >/exchange/reply 2>/exchange/nc.err; echo $? >/exchange/status.tmp;"
                + " mv /exchange/status.tmp /exchange/status; exec sleep 120";
        long started = System.nanoTime();
        Podman.Result run = podman.run("run", "--detach", "--name", name, "--network", network,
                "--cgroup-parent", "/" + prefix, "--volume", exchange + ":/exchange",
                "--rootfs", Podman.busyboxRootfs(dir) + ":O", "/bin/sh", "-c", script).requireSuccess();
        String id = run.stdout().strip();
        assertTrue(id.matches("[0-9a-f]{64}"), "podman run --detach printed no container id: " + run);
        containerIds.add(id);
        Path sandbox = Path.of(podman.run("inspect", "--format", "{{.NetworkSettings.SandboxKey}}", name).requireSuccess()
                .stdout().strip());
        containerNetns.add(sandbox);

        Path status = exchange.resolve("status");
        assertTrue(KernelTestSupport.await(Duration.ofSeconds(20), () -> Files.exists(status)),
                () -> "the container's nc did not finish within 20 s; " + describe(name, exchange));
        assertEquals("0", Files.readString(status).strip(), () -> "nc in the container failed; " + describe(name, exchange));
        byte[] reply = Files.readAllBytes(exchange.resolve("reply"));
        int newline = indexOf(reply, (byte) '\n');
        assertTrue(newline > 0, () -> "no greeting line in the " + reply.length + " bytes the container got back");
        String hello = new String(reply, 0, newline, StandardCharsets.US_ASCII);
        assertTrue(hello.startsWith("hello from " + SERVICE.getAddress().getHostAddress() + ":" + SERVICE.getPort() + ";"),
                hello);
        assertArrayEquals(payload, Arrays.copyOfRange(reply, newline + 1, reply.length),
                "the bytes the container got back differ from the " + PAYLOAD_BYTES + " it sent");

        // podman passes K8S_POD_NAME but no K8S_POD_NAMESPACE: the agent names the pod by short id.
        ManagedPod pod = agent.podByContainer(id).orElseThrow(
                () -> new AssertionError("the agent has no pod for container " + id + "; pods: " + agent.pods()));
        assertEquals(id.substring(0, 12), pod.name());
        assertEquals(sandbox, pod.spec().netns(), "the agent intercepted another netns than the container's");
        PodCounters.Snapshot counters = KernelTestSupport.awaitIdle(agent, pod.name());
        assertEquals(1, counters.accepted(), "the container's connection did not go through the agent: " + counters);
        assertEquals(PAYLOAD_BYTES, counters.bytesFromClients(), counters.toString());
        assertEquals(reply.length, counters.bytesFromUpstreams(), counters.toString());

        long removing = System.nanoTime();
        podman.run("rm", "--force", "--time", "0", name).requireSuccess();
        long removed = System.nanoTime();
        boolean releasedByRm = agent.podByContainer(id).isEmpty();
        assertTrue(KernelTestSupport.await(RELEASE_LIMIT, () -> agent.podByContainer(id).isEmpty()),
                () -> "podman removed container " + name + " but within " + RELEASE_LIMIT.toSeconds()
                        + " s no DEL released pod " + pod.name() + " in the agent");
        long released = System.nanoTime();
        System.err.printf("podman test: run+exchange %d ms; rm %d ms; DEL %s%n", (removing - started) / 1_000_000,
                (removed - removing) / 1_000_000, releasedByRm ? "had arrived when rm returned"
                        : "arrived " + (released - removed) / 1_000_000 + " ms after rm returned");

        assertFalse(Files.exists(sandbox), "podman left the container's netns " + sandbox);
        assertEquals(List.of(), podman.cachedResults(), "libcni results of network " + network + " left behind");
        assertEquals(List.of(), Podman.runcState(dir, id), "runc state of container " + id + " left behind");
        assertEquals("", podman.run("ps", "--all", "--quiet").requireSuccess().stdout().strip());
        assertEquals("", Topology.exec(nodeNs, "nft", "list", "ruleset").strip(), "rules appeared in the node netns");
    }

    private String describe(String name, Path exchange) {
        StringBuilder s = new StringBuilder();
        try {
            Path err = exchange.resolve("nc.err");
            s.append("nc stderr: ").append(Files.exists(err) ? Files.readString(err).strip() : "(none)");
            Podman.Result inspect = podman.run("inspect", "--format", "{{.State.Status}} exit={{.State.ExitCode}}", name);
            s.append("; container: ").append(inspect.stdout().strip()).append(inspect.stderr().strip());
            s.append("; agent pods: ").append(agent.pods().stream().map(ManagedPod::name).toList());
        } catch (IOException e) {
            s.append("; (could not ask podman: ").append(e.getMessage()).append(')');
        }
        return s.toString();
    }

    /**
     * What a podman that failed half-way could leave outside the test dir: the container netns,
     * libcni results, runc state, cgroups. Returns what could not be removed.
     */
    private List<String> removeWhatPodmanLeft() throws IOException {
        List<String> left = new ArrayList<>();
        for (Path netns : containerNetns) {
            if (Files.exists(netns)) {
                run(false, "ip", "netns", "del", netns.getFileName().toString());
                if (Files.exists(netns)) {
                    left.add("netns " + netns);
                }
            }
        }
        if (podman != null) {
            for (Path result : podman.cachedResults()) {
                Files.deleteIfExists(result);
            }
        }
        for (String id : containerIds) {
            for (Path state : Podman.runcState(dir, id)) {
                left.add("runc state " + state);
            }
        }
        if (!cniDirExisted) {
            // Only libcni made it, for this test; an entry someone else wrote meanwhile keeps it.
            for (Path d : List.of(Podman.CNI_RESULTS, Podman.CNI_RESULTS.getParent())) {
                try {
                    Files.deleteIfExists(d);
                } catch (DirectoryNotEmptyException e) {
                    break;
                }
            }
        }
        left.addAll(removeCgroups());
        return left;
    }

    /** Every hierarchy's /shunt-ktpod-* subtree (the container's and conmon's cgroups), deepest first. */
    private List<String> removeCgroups() throws IOException {
        List<String> left = new ArrayList<>();
        if (!Files.isDirectory(CGROUPS)) {
            return left;
        }
        List<Path> hierarchies;
        try (Stream<Path> s = Files.list(CGROUPS)) {
            hierarchies = s.filter(Files::isDirectory).toList();
        }
        for (Path hierarchy : hierarchies) {
            Path ours = hierarchy.resolve(prefix);
            if (!Files.isDirectory(ours)) {
                continue;
            }
            List<Path> dirs;
            try (Stream<Path> s = Files.walk(ours)) {
                dirs = s.filter(Files::isDirectory).sorted(Comparator.reverseOrder()).toList();
            }
            for (Path d : dirs) {
                try {
                    Files.delete(d);
                } catch (IOException e) {
                    left.add("cgroup " + d + " (" + e.getMessage() + ")");
                }
            }
        }
        return left;
    }

    /** Deletes the test dir unless something is still mounted under it (deleting would reach into the mount). */
    private List<String> removeTestDir() throws IOException {
        String root = dir.toRealPath().toString() + "/";
        List<String> mounts = Files.readAllLines(Path.of("/proc/self/mounts")).stream().map(l -> l.split(" ")[1])
                .filter(m -> m.startsWith(root)).toList();
        if (!mounts.isEmpty()) {
            return List.of("mounts under " + dir + " (left it in place): " + mounts);
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
        return List.of();
    }

    private static int indexOf(byte[] bytes, byte b) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return -1;
    }

    /** Runs {@code argv}; fails on a non-zero exit only with {@code mustSucceed} (deleting what may be gone already). */
    private static void run(boolean mustSucceed, String... argv) throws IOException {
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", argv) + " did not finish within 30 s");
            }
            if (mustSucceed && p.exitValue() != 0) {
                throw new IOException(String.join(" ", argv) + " failed with " + p.exitValue() + ": " + out.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + String.join(" ", argv), e);
        }
    }
}
