package io.shunt.kerneltests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.shunt.agent.standalone.StandaloneMain;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * deploy/: the Kubernetes manifests and the systemd unit, checked here without a cluster and
 * without running systemd. No kernel feature is needed; the class lives with the end-to-end tests
 * because it checks the deployment of the whole agent.
 *
 * <ul>
 *   <li>kubectl accepts every object in a client-side dry run;</li>
 *   <li>the DaemonSet has what the agent needs and nothing it must not have (host network, the
 *       capability set instead of privileged, probes that reach this pod's agent, host paths mounted
 *       at the same path, propagation), and every agent option it passes, including those of the
 *       ConfigMap's argument file, is one the agent parses;</li>
 *   <li>it upgrades by take-over (surge, no host port, --take-over, rules kept on SIGTERM), and its
 *       uninstall DaemonSet can remove the rules the agents left;</li>
 *   <li>the systemd unit's ExecStart parses the same way, with the same capabilities, and
 *       {@code systemd-analyze verify} has nothing to say about it.</li>
 * </ul>
 */
class DeployManifestsTest {
    private static final Path REPO = repositoryRoot();
    private static final Path KUBERNETES = REPO.resolve("deploy/kubernetes");
    private static final Path SYSTEMD = REPO.resolve("deploy/systemd");
    private static final ObjectMapper YAML = new YAMLMapper();
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The capabilities the agent runs with, in the DaemonSet (without CAP_) and the unit (with). */
    private static final Set<String> CAPABILITIES = Set.of("NET_ADMIN", "SYS_ADMIN", "BPF", "PERFMON");
    private static final String AGENT_ARGS_MOUNT = "/etc/shunt";

    /**
     * The API kinds the manifests use, as the stub API server below describes them to kubectl.
     * A manifest with another kind fails the dry run until it is added here.
     */
    private record Kind(String group, String kind, String resource, boolean namespaced) {
        String groupVersion() {
            return group.isEmpty() ? "v1" : group + "/v1";
        }

        /** How kubectl names an object of this kind in its output, e.g. daemonset.apps/shunt-agent. */
        String printed(String name) {
            return kind.toLowerCase() + (group.isEmpty() ? "" : "." + group) + "/" + name;
        }
    }

    private static final List<Kind> KINDS = List.of(
            new Kind("", "Namespace", "namespaces", false),
            new Kind("", "ServiceAccount", "serviceaccounts", true),
            new Kind("", "ConfigMap", "configmaps", true),
            new Kind("apps", "DaemonSet", "daemonsets", true),
            new Kind("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false),
            new Kind("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", false));

    @TempDir
    Path temp;

    // ---------------------------------------------------------------------------------------------
    // kubectl

    /**
     * {@code kubectl apply --dry-run=client} of the kustomization and of the uninstall DaemonSet:
     * exit 0, and one "created (dry run)" line per object.
     *
     * <p>A client-side dry run still asks an API server which kinds exist (discovery) and whether
     * each object exists already, so kubectl cannot run it with no server at all (with an empty
     * kubeconfig it dials localhost:8080). It talks here to a stub on loopback, started by this
     * test, that knows {@link #KINDS} and has no objects; the kubeconfig, HOME and the discovery
     * cache are temporary, so no real cluster or user configuration is ever touched. The stub
     * records every request: a dry run must only read.
     */
    @Test
    void kubectlAcceptsEveryObjectInAClientDryRun() throws Exception {
        Optional<Path> kubectl = onPath("kubectl");
        assumeTrue(kubectl.isPresent(), "kubectl is not installed: the manifests' dry run is skipped");
        List<String> requests = new CopyOnWriteArrayList<>();
        HttpServer stub = stubApiServer(requests);
        try {
            Path kubeconfig = temp.resolve("kubeconfig");
            Files.writeString(kubeconfig, """
                    apiVersion: v1
                    kind: Config
                    clusters: [{name: stub, cluster: {server: "http://127.0.0.1:%d"}}]
                    users: [{name: nobody, user: {}}]
                    contexts: [{name: stub, context: {cluster: stub, user: nobody}}]
                    current-context: stub
                    """.formatted(stub.getAddress().getPort()));

            List<String> installed = new ArrayList<>();
            for (String resource : strings(yaml(KUBERNETES.resolve("kustomization.yaml")).get("resources"))) {
                objects(KUBERNETES.resolve(resource)).forEach(o -> installed.add(printed(o)));
            }
            assertDryRun(kubectl.get(), kubeconfig, List.of("-k", KUBERNETES.toString()), installed);

            Path uninstall = KUBERNETES.resolve("uninstall");
            List<String> cleanup = new ArrayList<>();
            try (Stream<Path> files = Files.list(uninstall)) {
                for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
                    objects(file).forEach(o -> cleanup.add(printed(o)));
                }
            }
            assertDryRun(kubectl.get(), kubeconfig, List.of("-f", uninstall.toString()), cleanup);
        } finally {
            stub.stop(0);
        }
        assertFalse(requests.isEmpty(), "kubectl never asked the stub API server anything");
        List<String> writes = requests.stream().filter(r -> !r.startsWith("GET ")).toList();
        assertTrue(writes.isEmpty(), "a client-side dry run sent writes to the API server: " + writes);
    }

    private void assertDryRun(Path kubectl, Path kubeconfig, List<String> what, List<String> objects)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(kubectl.toString(), "apply", "--dry-run=client",
                "--validate=false", "--kubeconfig", kubeconfig.toString(),
                "--cache-dir", temp.resolve("kube-cache").toString(), "--request-timeout", "20s"));
        command.addAll(what);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("HOME", temp.toString());
        pb.environment().put("KUBECONFIG", kubeconfig.toString());
        Run run = run(pb, 120);
        assertEquals(0, run.exit(), () -> String.join(" ", command) + " failed:\n" + run.output());
        for (String object : objects) {
            assertTrue(run.output().contains(object + " created (dry run)"),
                    () -> object + " is not reported as created by:\n" + run.output());
        }
        long created = run.output().lines().filter(l -> l.endsWith(" created (dry run)")).count();
        assertEquals(objects.size(), created, () -> "objects " + objects + ", kubectl said:\n" + run.output());
    }

    /** Discovery for {@link #KINDS}; every other path is a 404, as for objects that do not exist. */
    private static HttpServer stubApiServer(List<String> requests) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        Map<String, Object> routes = new LinkedHashMap<>();
        routes.put("/api", Map.of("kind", "APIVersions", "versions", List.of("v1"), "serverAddressByClientCIDRs",
                List.of(Map.of("clientCIDR", "0.0.0.0/0", "serverAddress", "127.0.0.1"))));
        List<Map<String, Object>> groups = new ArrayList<>();
        Map<String, List<Kind>> byGroupVersion = KINDS.stream()
                .collect(Collectors.groupingBy(Kind::groupVersion, LinkedHashMap::new, Collectors.toList()));
        byGroupVersion.forEach((groupVersion, kinds) -> {
            List<Map<String, Object>> resources = kinds.stream().map(k -> Map.<String, Object>of(
                    "name", k.resource(), "singularName", k.kind().toLowerCase(), "namespaced", k.namespaced(),
                    "kind", k.kind(), "verbs", List.of("create", "get", "list", "patch"))).toList();
            String path = groupVersion.equals("v1") ? "/api/v1" : "/apis/" + groupVersion;
            routes.put(path, Map.of("kind", "APIResourceList", "apiVersion", "v1", "groupVersion", groupVersion,
                    "resources", resources));
            if (!groupVersion.equals("v1")) {
                Map<String, String> version = Map.of("groupVersion", groupVersion, "version", "v1");
                groups.add(Map.of("name", kinds.getFirst().group(), "versions", List.of(version),
                        "preferredVersion", version));
            }
        });
        routes.put("/apis", Map.of("kind", "APIGroupList", "apiVersion", "v1", "groups", groups));
        server.createContext("/", exchange -> answer(exchange, routes, requests));
        server.start();
        return server;
    }

    private static void answer(HttpExchange exchange, Map<String, Object> routes, List<String> requests) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            requests.add(exchange.getRequestMethod() + " " + exchange.getRequestURI());
            Object body = exchange.getRequestMethod().equals("GET") ? routes.get(path) : null;
            int status = body != null ? 200 : 404;
            if (body == null) {
                body = Map.of("kind", "Status", "apiVersion", "v1", "status", "Failure", "reason", "NotFound", "code", 404);
            }
            byte[] bytes = JSON.writeValueAsBytes(body);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(status, bytes.length);
            exchange.getResponseBody().write(bytes);
        }
    }

    private static String printed(JsonNode object) {
        String apiVersion = object.path("apiVersion").asText();
        String group = apiVersion.contains("/") ? apiVersion.substring(0, apiVersion.indexOf('/')) : "";
        String kind = object.path("kind").asText();
        Kind known = KINDS.stream().filter(k -> k.kind().equals(kind) && k.group().equals(group)).findFirst()
                .orElseThrow(() -> new AssertionError(apiVersion + " " + kind + " is not among the kinds the stub API "
                        + "server knows; add it to KINDS"));
        return known.printed(object.path("metadata").path("name").asText());
    }

    // ---------------------------------------------------------------------------------------------
    // The DaemonSet

    @Test
    void daemonSetRunsTheAgentOnTheNodeWithOnlyItsCapabilities() throws IOException {
        JsonNode ds = daemonSet();
        JsonNode pod = ds.at("/spec/template/spec");
        assertTrue(pod.path("hostNetwork").asBoolean(), "hostNetwork");
        assertEquals("ClusterFirstWithHostNet", pod.path("dnsPolicy").asText());
        assertEquals("system-node-critical", pod.path("priorityClassName").asText());
        assertTrue(stream(pod.path("tolerations")).anyMatch(t -> t.path("operator").asText().equals("Exists")
                        && !t.has("key") && !t.has("effect")),
                "a toleration of every taint (operator: Exists, no key, no effect): " + pod.path("tolerations"));
        assertFalse(pod.path("hostPID").asBoolean(), "hostPID: the runtimes hand over netns bind mounts");
        assertTrue(pod.path("automountServiceAccountToken").asBoolean(true), "the pod watcher needs its token");
        assertEquals(yaml(KUBERNETES.resolve("serviceaccount.yaml")).at("/metadata/name").asText(),
                pod.path("serviceAccountName").asText());

        JsonNode agent = container(pod, "containers", "agent");
        JsonNode env = stream(agent.path("env")).filter(e -> e.path("name").asText().equals("NODE_NAME")).findFirst()
                .orElseThrow(() -> new AssertionError("no NODE_NAME in the agent's env"));
        assertEquals("spec.nodeName", env.at("/valueFrom/fieldRef/fieldPath").asText());

        for (JsonNode c : allContainers(pod)) {
            String name = c.path("name").asText();
            JsonNode sc = c.path("securityContext");
            assertFalse(sc.path("privileged").asBoolean(false), name + " must not be privileged");
            assertTrue(sc.path("readOnlyRootFilesystem").asBoolean(), name + ": readOnlyRootFilesystem");
            assertEquals(0, sc.path("runAsUser").asInt(-1), name + ": runAsUser 0");
            assertEquals(List.of("ALL"), strings(sc.at("/capabilities/drop")), name + " drops every capability first");
            for (JsonNode mount : c.path("volumeMounts")) {
                assertNotEquals("Bidirectional", mount.path("mountPropagation").asText(),
                        name + ": Bidirectional propagation needs a privileged container: " + mount);
            }
        }
        assertEquals(CAPABILITIES, Set.copyOf(strings(agent.at("/securityContext/capabilities/add"))));
        JsonNode init = container(pod, "initContainers", "install-cni");
        assertTrue(strings(init.at("/securityContext/capabilities/add")).isEmpty(), "install-cni needs no capability");
        assertFalse(init.at("/securityContext/allowPrivilegeEscalation").asBoolean(true), "install-cni: no escalation");

        JsonNode resources = agent.path("resources");
        assertTrue(resources.at("/limits/cpu").isMissingNode(), "no CPU limit: it would throttle the data path");
        assertEquals("100m", resources.at("/requests/cpu").asText());
        assertFalse(resources.at("/limits/memory").isMissingNode(), "a memory limit");
        assertFalse(resources.at("/requests/memory").isMissingNode(), "a memory request");

        // The heap and direct memory caps leave a quarter of the limit for the rest of the JVM and a shuntctl exec.
        List<String> jvm = agentCommand(agent).jvm();
        long heap = jvmSize(jvm, "-Xmx");
        long direct = jvmSize(jvm, "-XX:MaxDirectMemorySize=");
        long limit = quantity(resources.at("/limits/memory").asText());
        assertTrue(heap + direct <= limit * 3 / 4, "heap " + heap + " + direct " + direct + " vs limit " + limit);
    }

    @Test
    void daemonSetPassesOnlyOptionsTheAgentKnows() throws IOException {
        JsonNode pod = daemonSet().at("/spec/template/spec");
        JsonNode agent = container(pod, "containers", "agent");
        AgentCommand command = agentCommand(agent);
        assertEquals("/opt/shunt/jre/bin/java", command.java());
        assertTrue(Collections.indexOfSubList(command.jvm(), jvmFlags()) >= 0,
                "the pom's shunt.jvm.flags " + jvmFlags() + " in " + command.jvm());
        assertEquals("/opt/shunt/lib/agent/*", command.classPath());

        // $(NODE_NAME) is kubelet's to expand; the argument file is the ConfigMap's, mounted at /etc/shunt.
        JsonNode configMap = yaml(KUBERNETES.resolve("configmap.yaml"));
        JsonNode configVolume = volumeMountedAt(pod, agent, AGENT_ARGS_MOUNT);
        assertEquals(configMap.at("/metadata/name").asText(), configVolume.at("/configMap/name").asText());
        Map<String, Path> argFiles = new LinkedHashMap<>();
        configMap.path("data").properties().forEach(e -> argFiles.put(AGENT_ARGS_MOUNT + "/" + e.getKey(),
                write(temp.resolve("configmap-" + e.getKey()), e.getValue().asText())));
        List<String> args = command.agentArgs().stream().map(a -> a.replace("$(NODE_NAME)", "node-1")).toList();
        assertTrue(args.contains("@" + AGENT_ARGS_MOUNT + "/agent.args"), "the ConfigMap's argument file: " + args);
        CommandLine.ParseResult parsed = parseAgent(args, argFiles);

        // kubelet probes the metrics address, which is on the node's loopback with hostNetwork, once
        // the startup probe has seen this pod's own agent serve (its --ready-file): before that, the
        // address may be an old agent's that this one is taking the pods over from.
        InetSocketAddress metrics = hostPort(parsed.matchedOptionValue("--metrics-address", ""));
        assertTrue(metrics.getAddress().isLoopbackAddress(), "metrics on loopback only: " + metrics);
        Path readyFile = parsed.matchedOptionValue("--ready-file", (Path) null);
        assertNotNull(readyFile, "--ready-file, for the startup probe");
        String startup = String.join(" ", strings(agent.at("/startupProbe/exec/command")));
        assertTrue(startup.contains("cat " + readyFile) && startup.contains("readlink /proc/self/ns/pid"),
                "the startup probe checks that " + readyFile + " is this container's agent's: " + startup);
        JsonNode readyVolume = volume(pod, stream(agent.path("volumeMounts"))
                .filter(m -> readyFile.startsWith(Path.of(m.path("mountPath").asText()))).findFirst()
                .orElseThrow(() -> new AssertionError(readyFile + " is on no volume")).path("name").asText());
        assertTrue(readyVolume.has("emptyDir"), "the ready file is the pod's own, not the node's: " + readyVolume);
        Map<String, String> probes = Map.of("livenessProbe", "/healthz", "readinessProbe", "/readyz");
        probes.forEach((probe, path) -> {
            JsonNode get = agent.path(probe).path("httpGet");
            assertEquals(path, get.path("path").asText(), probe);
            assertEquals(metrics.getAddress().getHostAddress(), get.path("host").asText(), probe + " host");
            assertEquals(metrics.getPort(), get.path("port").asInt(), probe + " port");
        });

        // Paths the host's runtime resolves (the CNI socket in the conflist) and the agent's state
        // live on host paths mounted at the same path.
        for (String option : List.of("--cni-socket", "--admin-socket", "--state-file")) {
            Path file = parsed.matchedOptionValue(option, (Path) null);
            assertNotNull(file, option + " is given");
            assertSameHostPath(pod, agent, file.getParent(), option);
        }
        assertSameHostPath(pod, agent, parsed.matchedOptionValue("--cni-conf-dir", (Path) null), "--cni-conf-dir");

        JsonNode netns = mountAt(agent, "/var/run/netns");
        assertEquals("HostToContainer", netns.path("mountPropagation").asText(),
                "pod netns mounts made after the agent started must appear in its container");
    }

    /**
     * An upgrade hands the pods from the old agent to the new one on each node: the new pod must be
     * able to start beside the old one (surge, and no host port, which the scheduler would see
     * taken), take the pods over, and the old one's SIGTERM must remove nothing and not cut its
     * drain short.
     */
    @Test
    void daemonSetUpgradesByTakeOverAndKeepsRulesOnSigterm() throws IOException {
        JsonNode ds = daemonSet();
        assertEquals("RollingUpdate", ds.at("/spec/updateStrategy/type").asText());
        assertEquals(1, ds.at("/spec/updateStrategy/rollingUpdate/maxSurge").asInt(), "the new pod starts beside the old");
        assertEquals(0, ds.at("/spec/updateStrategy/rollingUpdate/maxUnavailable").asInt(-1), "the old goes only after");
        JsonNode pod = ds.at("/spec/template/spec");
        for (JsonNode c : allContainers(pod)) {
            // With hostNetwork every declared containerPort becomes a hostPort (API defaulting).
            assertTrue(c.path("ports").isEmpty(), c.path("name") + " declares ports, host ports with hostNetwork, "
                    + "which keep the surge pod off the node: " + c.path("ports"));
        }
        CommandLine.ParseResult parsed = parsedDaemonSetAgent();
        assertTrue(parsed.hasMatchedOption("--take-over"), "--take-over");
        assertEquals("keep", String.valueOf(parsed.matchedOptionValue("--on-stop", (Object) null)), "--on-stop=keep");
        long drainSeconds = java.time.Duration.parse("PT" + parsed.matchedOptionValue("--drain-timeout", "60s")
                .toUpperCase()).toSeconds();
        assertTrue(pod.path("terminationGracePeriodSeconds").asLong() > drainSeconds,
                "kubelet's SIGKILL must not cut the old agent's drain (" + drainSeconds + " s) short");
    }

    /** The uninstall DaemonSet removes the rules the agents left (--on-stop=keep), where they left them. */
    @Test
    void cleanupDaemonSetCanRemoveTheRulesTheAgentsLeft() throws IOException {
        JsonNode agentPod = daemonSet().at("/spec/template/spec");
        JsonNode agent = container(agentPod, "containers", "agent");
        JsonNode cleanupPod = yaml(KUBERNETES.resolve("uninstall/shunt-cleanup.yaml")).at("/spec/template/spec");
        JsonNode init = container(cleanupPod, "initContainers", "uninstall-node");
        List<String> command = strings(init.path("command"));
        Path stateFile = parsedDaemonSetAgent().matchedOptionValue("--state-file", (Path) null);
        assertEquals(stateFile.getParent().toString(), command.get(3), "uninstall-node's STATE_DIR: " + command);
        assertTrue(Files.readString(REPO.resolve("deploy/container/uninstall-node")).contains("--state-file \"$state_dir/pods.json\""),
                "uninstall-node passes the state file to uninstall-cni");
        assertEquals(stateFile.getFileName().toString(), "pods.json");
        assertEquals(CAPABILITIES, Set.copyOf(strings(init.at("/securityContext/capabilities/add"))));
        assertEquals(env(agent, "SHUNT_TC_BPFFS"), env(init, "SHUNT_TC_BPFFS"), "the agents' bpffs");
        for (String path : List.of("/var/run/netns", "/sys/fs/bpf", stateFile.getParent().toString())) {
            assertEquals(volumeMountedAt(agentPod, agent, path).at("/hostPath/path").asText(),
                    volumeMountedAt(cleanupPod, init, path).at("/hostPath/path").asText(), path + " as the agent sees it");
        }
        assertEquals("HostToContainer", mountAt(init, "/var/run/netns").path("mountPropagation").asText());
    }

    private static String env(JsonNode container, String name) {
        return stream(container.path("env")).filter(e -> e.path("name").asText().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(container.path("name") + " has no " + name)).path("value").asText();
    }

    /** The DaemonSet agent's arguments with the ConfigMap's argument file, parsed by the agent's own command line. */
    private CommandLine.ParseResult parsedDaemonSetAgent() throws IOException {
        JsonNode pod = daemonSet().at("/spec/template/spec");
        JsonNode agent = container(pod, "containers", "agent");
        JsonNode configMap = yaml(KUBERNETES.resolve("configmap.yaml"));
        Map<String, Path> argFiles = new LinkedHashMap<>();
        configMap.path("data").properties().forEach(e -> argFiles.put(AGENT_ARGS_MOUNT + "/" + e.getKey(),
                write(temp.resolve("configmap-" + e.getKey()), e.getValue().asText())));
        return parseAgent(agentCommand(agent).agentArgs().stream().map(a -> a.replace("$(NODE_NAME)", "node-1")).toList(),
                argFiles);
    }

    /** The agent reads pods and nothing else; it never writes to the API server. */
    @Test
    void rbacGrantsOnlyReadingPods() throws IOException {
        List<JsonNode> rbac = objects(KUBERNETES.resolve("rbac.yaml"));
        JsonNode role = rbac.stream().filter(o -> o.path("kind").asText().equals("ClusterRole")).findFirst().orElseThrow();
        assertEquals(1, role.path("rules").size(), "one rule: " + role.path("rules"));
        JsonNode rule = role.path("rules").get(0);
        assertEquals(List.of(""), strings(rule.path("apiGroups")));
        assertEquals(List.of("pods"), strings(rule.path("resources")));
        assertEquals(Set.of("get", "list", "watch"), Set.copyOf(strings(rule.path("verbs"))));
        JsonNode binding = rbac.stream().filter(o -> o.path("kind").asText().equals("ClusterRoleBinding")).findFirst().orElseThrow();
        assertEquals(role.at("/metadata/name").asText(), binding.at("/roleRef/name").asText());
        JsonNode subject = binding.path("subjects").get(0);
        assertEquals(daemonSet().at("/spec/template/spec/serviceAccountName").asText(), subject.path("name").asText());
        assertEquals(daemonSet().at("/metadata/namespace").asText(), subject.path("namespace").asText());
    }

    @Test
    void initContainerInstallsThePluginWithHostPaths() throws IOException {
        JsonNode pod = daemonSet().at("/spec/template/spec");
        JsonNode init = container(pod, "initContainers", "install-cni");
        List<String> command = strings(init.path("command"));
        assertEquals("/opt/shunt/bin/install-cni", command.getFirst());
        assertTrue(Files.isExecutable(REPO.resolve("deploy/container/install-cni")), "deploy/container/install-cni");
        Path binDir = Path.of(command.get(1));
        // The launcher holds absolute paths that the host's runtime resolves, and InstallLauncher's
        // training run executes it in this container: the same path on both sides.
        assertSameHostPath(pod, init, binDir, "the CNI bin dir");
        assertTrue(init.at("/resources/limits/memory").isMissingNode(),
                "no memory limit: the trained archive's compressed-oops mode must match the host's plugin JVM");
        assertFalse(mountAt(init, "/tmp").isMissingNode(), "a writable /tmp for the training run");
    }

    // ---------------------------------------------------------------------------------------------
    // systemd

    @Test
    void systemdUnitRunsTheSameAgentWithTheSameCapabilities() throws IOException {
        Map<String, List<String>> unit = unitDirectives(SYSTEMD.resolve("shunt-agent.service"));
        List<String> exec = tokenize(single(unit, "ExecStart"));
        AgentCommand command = AgentCommand.of(exec);
        assertEquals("/opt/shunt/jre/bin/java", command.java());
        assertTrue(Collections.indexOfSubList(command.jvm(), jvmFlags()) >= 0,
                "the pom's shunt.jvm.flags " + jvmFlags() + " in " + command.jvm());
        List<String> dsJvm = agentCommand(container(daemonSet().at("/spec/template/spec"), "containers", "agent")).jvm();
        assertEquals(dsJvm, command.jvm(), "the same JVM flags as the DaemonSet");
        assertEquals("/opt/shunt/lib/agent/*", command.classPath());

        Path args = write(temp.resolve("agent.args"), Files.readString(SYSTEMD.resolve("agent.args")));
        CommandLine.ParseResult parsed = parseAgent(command.agentArgs(), Map.of("/etc/shunt/agent.args", args));

        Set<String> caps = CAPABILITIES.stream().map(c -> "CAP_" + c).collect(Collectors.toSet());
        assertEquals(caps, Set.copyOf(tokenize(single(unit, "CapabilityBoundingSet"))));
        assertEquals(caps, Set.copyOf(tokenize(single(unit, "AmbientCapabilities"))));

        assertEquals("shunt", single(unit, "RuntimeDirectory"));
        assertEquals("shunt", single(unit, "StateDirectory"));
        assertEquals(Path.of("/run/shunt"), parsed.matchedOptionValue("--cni-socket", (Path) null).getParent());
        assertEquals(Path.of("/run/shunt"), parsed.matchedOptionValue("--admin-socket", (Path) null).getParent());
        assertEquals(Path.of("/var/lib/shunt"), parsed.matchedOptionValue("--state-file", (Path) null).getParent());
        Path confDir = parsed.matchedOptionValue("--cni-conf-dir", (Path) null);
        assertTrue(tokenize(single(unit, "ReadWritePaths")).contains(confDir.toString()),
                "ProtectSystem=strict leaves --cni-conf-dir " + confDir + " writable");
        assertTrue(hostPort(parsed.matchedOptionValue("--metrics-address", "")).getAddress().isLoopbackAddress());
        assertEquals("on-failure", single(unit, "Restart"), "a clean exit (shuntctl uninstall) must not restart it");
        assertEquals("keep", String.valueOf(parsed.matchedOptionValue("--on-stop", (Object) null)),
                "a stop or restart leaves the rules (fail closed); shuntctl uninstall removes them");
        assertEquals("SIGTERM", single(unit, "KillSignal"));
    }

    /**
     * {@code systemd-analyze verify} on the unit, which must print nothing about it. The unit's
     * java (/opt/shunt/jre/bin/java) is not installed here and verify would say only that, so it
     * checks a copy whose ExecStart runs a stand-in executable instead, with every argument and
     * every other line unchanged. verify exits 0 even for unknown keys and bad values (it logs
     * them and ignores them), hence the check of its output rather than its exit code alone.
     */
    @Test
    void systemdAnalyzeVerifiesTheUnit() throws IOException, InterruptedException {
        Optional<Path> analyze = onPath("systemd-analyze");
        assumeTrue(analyze.isPresent(), "systemd-analyze is not installed: the unit's verification is skipped");
        String java = "/opt/shunt/jre/bin/java";
        String unit = Files.readString(SYSTEMD.resolve("shunt-agent.service"));
        assertTrue(unit.contains("ExecStart=" + java + " "), "ExecStart runs " + java);
        Path standIn = temp.resolve("java");
        Files.writeString(standIn, "#!/bin/sh\nexit 0\n");
        assertTrue(standIn.toFile().setExecutable(true));
        Path copy = temp.resolve("shunt-agent.service");
        Files.writeString(copy, unit.replace("ExecStart=" + java + " ", "ExecStart=" + standIn + " "));

        Run run = run(new ProcessBuilder(analyze.get().toString(), "verify", "--man=no", copy.toString())
                .redirectErrorStream(true), 60);
        List<String> aboutUnit = run.output().lines().filter(l -> l.contains("shunt-agent.service")).toList();
        assertTrue(aboutUnit.isEmpty(), "systemd-analyze verify about the unit:\n" + run.output());
        assertEquals(0, run.exit(), "systemd-analyze verify:\n" + run.output());
    }

    // ---------------------------------------------------------------------------------------------
    // helpers

    /** java, its flags, -cp CP, StandaloneMain, then the agent's own arguments. */
    private record AgentCommand(String java, List<String> jvm, String classPath, List<String> agentArgs) {
        static AgentCommand of(List<String> argv) {
            int main = argv.indexOf(StandaloneMain.class.getName());
            assertTrue(main > 0, "the command runs " + StandaloneMain.class.getName() + ": " + argv);
            List<String> jvm = argv.subList(1, main);
            int cp = jvm.indexOf("-cp");
            assertTrue(cp >= 0 && cp + 1 < jvm.size(), "a -cp CLASSPATH: " + jvm);
            List<String> flags = new ArrayList<>(jvm);
            String classPath = flags.remove(cp + 1);
            flags.remove(cp);
            return new AgentCommand(argv.getFirst(), List.copyOf(flags), classPath, List.copyOf(argv.subList(main + 1, argv.size())));
        }
    }

    private static AgentCommand agentCommand(JsonNode agent) {
        List<String> argv = new ArrayList<>(strings(agent.path("command")));
        argv.addAll(strings(agent.path("args")));
        return AgentCommand.of(argv);
    }

    /**
     * Parses {@code args} with the agent's own picocli model, argument files ({@code @PATH}) read
     * from {@code argFiles}, and checks that --help lists every option used.
     */
    private CommandLine.ParseResult parseAgent(List<String> args, Map<String, Path> argFiles) throws IOException {
        List<String> resolved = new ArrayList<>();
        List<String> options = new ArrayList<>();
        for (String arg : args) {
            if (arg.startsWith("@")) {
                Path local = argFiles.get(arg.substring(1));
                assertNotNull(local, "argument file " + arg + " is not provided: " + argFiles.keySet());
                resolved.add("@" + local);
                options.addAll(optionsIn(Files.readString(local)));
            } else {
                resolved.add(arg);
                if (arg.startsWith("-")) {
                    options.add(arg);
                }
            }
        }
        CommandLine cli = new CommandLine(new StandaloneMain());
        String help = cli.getUsageMessage(CommandLine.Help.Ansi.OFF);
        for (String option : options) {
            String name = option.contains("=") ? option.substring(0, option.indexOf('=')) : option;
            assertTrue(help.contains(name), name + " is not an option of shunt-agent --help:\n" + help);
        }
        try {
            CommandLine.ParseResult parsed = cli.parseArgs(resolved.toArray(String[]::new));
            assertTrue(parsed.unmatched().isEmpty(), "unmatched arguments " + parsed.unmatched());
            return parsed;
        } catch (CommandLine.ParameterException e) {
            throw new AssertionError("shunt-agent refuses " + args + ": " + e.getMessage(), e);
        }
    }

    /** The options in a picocli argument file: tokens starting with - on lines that are not comments. */
    private static List<String> optionsIn(String argFile) {
        return argFile.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#"))
                .flatMap(l -> Stream.of(l.split("\\s+"))).filter(t -> t.startsWith("-")).toList();
    }

    private static List<String> jvmFlags() throws IOException {
        Matcher m = Pattern.compile("<shunt\\.jvm\\.flags>([^<]*)</shunt\\.jvm\\.flags>")
                .matcher(Files.readString(REPO.resolve("pom.xml")));
        assertTrue(m.find(), "shunt.jvm.flags in pom.xml");
        return List.of(m.group(1).strip().split("\\s+"));
    }

    private static void assertSameHostPath(JsonNode pod, JsonNode container, Path path, String what) {
        assertNotNull(path, what);
        JsonNode mount = stream(container.path("volumeMounts"))
                .filter(m -> path.startsWith(Path.of(m.path("mountPath").asText())))
                .max((a, b) -> Integer.compare(a.path("mountPath").asText().length(), b.path("mountPath").asText().length()))
                .orElseThrow(() -> new AssertionError(what + " " + path + " is on no volume of " + container.path("name")));
        JsonNode volume = volume(pod, mount.path("name").asText());
        assertEquals(mount.path("mountPath").asText(), volume.at("/hostPath/path").asText(),
                what + " " + path + ": a host directory mounted at its own path");
    }

    private static JsonNode volumeMountedAt(JsonNode pod, JsonNode container, String mountPath) {
        return volume(pod, mountAt(container, mountPath).path("name").asText());
    }

    private static JsonNode mountAt(JsonNode container, String mountPath) {
        return stream(container.path("volumeMounts")).filter(m -> m.path("mountPath").asText().equals(mountPath))
                .findFirst().orElseThrow(() -> new AssertionError(container.path("name") + " mounts nothing at " + mountPath));
    }

    private static JsonNode volume(JsonNode pod, String name) {
        return stream(pod.path("volumes")).filter(v -> v.path("name").asText().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no volume " + name));
    }

    private static JsonNode container(JsonNode pod, String list, String name) {
        return stream(pod.path(list)).filter(c -> c.path("name").asText().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + list + " entry named " + name));
    }

    private static List<JsonNode> allContainers(JsonNode pod) {
        return Stream.concat(stream(pod.path("initContainers")), stream(pod.path("containers"))).toList();
    }

    private static JsonNode daemonSet() throws IOException {
        return yaml(KUBERNETES.resolve("daemonset.yaml"));
    }

    private static JsonNode yaml(Path file) throws IOException {
        List<JsonNode> docs = objects(file);
        assertEquals(1, docs.size(), file + " holds one document");
        return docs.getFirst();
    }

    private static List<JsonNode> objects(Path file) throws IOException {
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
            return it.readAll().stream().filter(n -> n != null && !n.isMissingNode() && !n.isNull() && !n.isEmpty()).toList();
        }
    }

    private static Stream<JsonNode> stream(JsonNode array) {
        List<JsonNode> items = new ArrayList<>();
        array.forEach(items::add);
        return items.stream();
    }

    private static List<String> strings(JsonNode array) {
        return stream(array).map(JsonNode::asText).toList();
    }

    /** 128m, 64m (JVM sizes) in bytes. */
    private static long jvmSize(List<String> jvm, String prefix) {
        String value = jvm.stream().filter(f -> f.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + prefix + " in " + jvm)).substring(prefix.length());
        long n = Long.parseLong(value.substring(0, value.length() - 1));
        return switch (Character.toLowerCase(value.charAt(value.length() - 1))) {
            case 'k' -> n << 10;
            case 'm' -> n << 20;
            case 'g' -> n << 30;
            default -> throw new AssertionError("unexpected size " + value);
        };
    }

    /** 256Mi, 1Gi (Kubernetes quantities) in bytes. */
    private static long quantity(String value) {
        Matcher m = Pattern.compile("(\\d+)(Ki|Mi|Gi)").matcher(value);
        assertTrue(m.matches(), "a memory quantity like 256Mi: " + value);
        int shift = switch (m.group(2)) {
            case "Ki" -> 10;
            case "Mi" -> 20;
            default -> 30;
        };
        return Long.parseLong(m.group(1)) << shift;
    }

    private static InetSocketAddress hostPort(String text) {
        int colon = text.lastIndexOf(':');
        assertTrue(colon > 0, "HOST:PORT: " + text);
        return new InetSocketAddress(InetAddress.ofLiteral(text.substring(0, colon).replaceAll("[\\[\\]]", "")),
                Integer.parseInt(text.substring(colon + 1)));
    }

    /** The [Service]/[Unit]/[Install] directives of a unit file, continuation lines joined. */
    private static Map<String, List<String>> unitDirectives(Path file) throws IOException {
        Map<String, List<String>> directives = new LinkedHashMap<>();
        String joined = Files.readString(file).replaceAll("\\\\\n\\s*", " ");
        for (String line : joined.lines().map(String::strip).toList()) {
            if (line.isEmpty() || line.startsWith("#") || line.startsWith(";") || line.startsWith("[")) {
                continue;
            }
            int eq = line.indexOf('=');
            assertTrue(eq > 0, "KEY=VALUE: " + line);
            directives.computeIfAbsent(line.substring(0, eq), k -> new ArrayList<>()).add(line.substring(eq + 1).strip());
        }
        return directives;
    }

    private static String single(Map<String, List<String>> unit, String key) {
        List<String> values = unit.getOrDefault(key, List.of());
        assertEquals(1, values.size(), key + " set once: " + values);
        return values.getFirst();
    }

    /** Splits as systemd does for the cases used here: whitespace, and double quotes around a word. */
    private static List<String> tokenize(String line) {
        List<String> tokens = new ArrayList<>();
        Matcher m = Pattern.compile("\"([^\"]*)\"|(\\S+)").matcher(line);
        while (m.find()) {
            tokens.add(m.group(1) != null ? m.group(1) : m.group(2));
        }
        return tokens;
    }

    private static Path write(Path file, String content) {
        try {
            return Files.writeString(file, content, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private record Run(int exit, String output) {
    }

    private static Run run(ProcessBuilder pb, int timeoutSeconds) throws IOException, InterruptedException {
        Path out = Files.createTempFile("shunt-deploy-test", ".out");
        try {
            Process p = pb.redirectOutput(out.toFile()).start();
            p.getOutputStream().close();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(String.join(" ", pb.command()) + " did not finish within " + timeoutSeconds + " s:\n" + Files.readString(out));
            }
            return new Run(p.exitValue(), Files.readString(out));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private static Optional<Path> onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, program);
            if (Files.isExecutable(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    private static Path repositoryRoot() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("deploy/kubernetes/daemonset.yaml"))) {
                return dir;
            }
        }
        throw new IllegalStateException("no deploy/kubernetes/daemonset.yaml above " + Path.of("").toAbsolutePath());
    }
}
