package io.shunt.agent.standalone;

import io.shunt.proxy.Transport;

import io.shunt.agent.AgentConfig;
import io.shunt.agent.CniPods;
import io.shunt.agent.KubeletPodCgroups;
import io.shunt.agent.OptOut;
import io.shunt.agent.PodAdmission;
import io.shunt.agent.kube.KubePodSync;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.shunt.k8s.KubeClients;
import io.shunt.k8s.PodWatcher;
import io.shunt.agent.admin.AdminEndpoint;
import io.shunt.agent.admin.AdminService;
import io.shunt.agent.admin.ExclusionJournal;
import io.shunt.agent.admin.RankingJournal;
import io.shunt.agent.cni.CniEndpoint;
import io.shunt.agent.metrics.MetricsServer;
import io.shunt.agent.cni.conflist.ChainEntry;
import io.shunt.agent.cni.conflist.ConflistGuard;
import io.shunt.agent.cni.conflist.ConflistInstaller;
import io.shunt.agent.registry.PodStore;
import io.shunt.api.admin.AdminWire;
import io.shunt.api.cni.CniWire;
import io.shunt.agent.NodeAgent;
import io.shunt.agent.registry.PodSpec;
import io.shunt.hijack.TechniqueId;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * The agent without Kubernetes: pods are given as network-namespace paths on the command line.
 * Runs until SIGTERM or SIGINT, then removes everything it installed.
 */
@Command(name = "shunt-agent", mixinStandardHelpOptions = true, version = "shunt-agent " + StandaloneMain.VERSION,
        subcommands = UninstallCniCommand.class,
        sortOptions = false,
        description = {
                "Intercepts the TCP traffic of local pods (network namespaces) and relays it through Shunt's shared proxy.",
                "Runs until SIGTERM/SIGINT, then removes every rule it installed (or, with --on-stop keep, leaves them for "
                        + "the next agent). Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).",
                ""},
        footer = {"", "Examples:",
                "  shunt-agent --pod web=/var/run/netns/web",
                "  shunt-agent --pod web=/var/run/netns/web --assume-missing tproxy     # what an older kernel gets",
                "  shunt-agent --pod a=/var/run/netns/a --pod b=/var/run/netns/b --pod-technique b=redirect",
                "  shunt-agent --cni-socket /run/shunt/cni.sock --state-file /var/lib/shunt/pods.json",
                "  shunt-agent --cni-socket /run/shunt/cni.sock --cni-conf-dir /etc/cni/net.d --skip-namespace kube-system",
                "  shunt-agent uninstall-cni --cni-conf-dir /etc/cni/net.d",
                "  shunt-agent --cni-socket /run/shunt/cni.sock --kube-node-name \"$NODE_NAME\"   # in a DaemonSet",
                "  shunt-agent --pod web=/var/run/netns/web --admin-socket /run/shunt/admin.sock   # for shuntctl",
                "  shunt-agent --pod web=/var/run/netns/web --metrics-address 127.0.0.1:15090 --log-format json",
                "  shunt-agent --pod a=/var/run/netns/a --pod b=/proc/4242/ns/net \\",
                "              --exclude-cidr 10.96.0.1/32 --exclude-port 22,9000-9100",
                "",
                "Exit codes: 0 stopped cleanly, 1 a pod could not be intercepted or cleaned up, 2 bad arguments."})
public final class StandaloneMain implements Callable<Integer> {
    static final int EXIT_FAILURE = 1;
    static final int EXIT_USAGE = 2;

    @CommandLine.Mixin
    AgentOptions options = new AgentOptions();

    @CommandLine.Option(names = "--pod", paramLabel = "NAME=NETNS[,cgroup=DIR]",
            description = "A pod to intercept: its name and network namespace path, and optionally its cgroup v2 "
                    + "folder (the sockmap technique attaches there; without it the pod falls back to the next "
                    + "technique). Repeatable.")
    List<String> pods = new ArrayList<>();

    @CommandLine.Option(names = "--cni-socket", paramLabel = "PATH",
            description = "Serve the shunt-cni plugin on this Unix socket (root only), e.g. " + CniWire.DEFAULT_SOCKET
                    + ". Pods then arrive through CNI ADD and leave through DEL.")
    Path cniSocket;

    @CommandLine.Option(names = "--pod-cgroup-root", paramLabel = "DIR",
            description = "Where the kubelet's pod cgroups are (the host's cgroup2 mount, or the kubelet's "
                    + "--cgroup-root under it); a CNI pod whose K8S_POD_UID names a group there gets it, which the "
                    + "sockmap technique needs. Default: this process's cgroup2 mount. 'none' turns the lookup off.")
    String podCgroupRoot;

    @CommandLine.Option(names = "--cni-conf-dir", paramLabel = "DIR",
            description = "Chain shunt-cni into the node's primary CNI configuration in this directory (e.g. "
                    + "/etc/cni/net.d) and put it back whenever another component rewrites the file. Needs --cni-socket. "
                    + "The entry stays when the agent stops (pods then wait for it); remove it with 'uninstall-cni'.")
    Path cniConfDir;

    @CommandLine.Option(names = "--cni-conflist", paramLabel = "FILE",
            description = "The file in --cni-conf-dir to chain into (default: the first *.conflist, *.conf or *.json "
                    + "by name, the one the runtime uses).")
    String cniConflist;

    @CommandLine.Option(names = "--cni-backup-dir", paramLabel = "DIR", defaultValue = ConflistInstaller.DEFAULT_BACKUP_DIR,
            description = "Where the primary configuration is copied before Shunt first changes it. Default: ${DEFAULT-VALUE}.")
    Path cniBackupDir;

    @CommandLine.Option(names = "--admin-socket", paramLabel = "PATH",
            description = "Serve the admin API for shuntctl on this Unix socket (root only), e.g. "
                    + AdminWire.DEFAULT_SOCKET + ", shuntctl's default.")
    Path adminSocket;

    @CommandLine.Option(names = "--metrics-address", paramLabel = "HOST:PORT",
            description = "Serve Prometheus metrics (/metrics) and health (/healthz, /readyz) over HTTP on this "
                    + "loopback address, e.g. 127.0.0.1:15090. Loopback only: the endpoint has no authentication.")
    String metricsAddress;

    @CommandLine.Option(names = "--kube-node-name", paramLabel = "NODE",
            description = "Watch the Kubernetes API for the pods of this node (in a DaemonSet: the downward API's "
                    + "spec.nodeName) and apply their annotations: shunt.io/intercept=false opts a pod out, "
                    + "shunt.io/technique overrides the ranking, shunt.io/exclude-outbound-cidrs, "
                    + "shunt.io/exclude-outbound-ports and shunt.io/exclude-inbound-ports add the pod's own exclusions. "
                    + "CNI ADDs wait until the node's pods have been listed once.")
    String kubeNodeName;

    @CommandLine.Option(names = "--kubeconfig", paramLabel = "PATH",
            description = "With --kube-node-name: reach the API server with this kubeconfig instead of the pod's "
                    + "service account.")
    Path kubeconfig;

    @CommandLine.Option(names = "--take-over",
            description = "Upgrade without dropping connections: take the pods over from the agent answering on "
                    + "--admin-socket (same --state-file). This agent opens its listeners beside the old ones "
                    + "(SO_REUSEPORT) and takes the rules over; the old agent stops accepting, serves its open "
                    + "connections until they end or its --drain-timeout, and exits without removing anything.")
    boolean takeOver;

    @CommandLine.Option(names = "--drain-timeout", defaultValue = "60s", paramLabel = "DURATION",
            description = "After handing over to a successor, how long this agent keeps serving its open "
                    + "connections before it exits. Default: ${DEFAULT-VALUE}.")
    String drainTimeout;

    @CommandLine.Option(names = "--on-stop", paramLabel = "keep|remove", defaultValue = "remove",
            description = "What SIGTERM/SIGINT does to the pods' rules. remove: release every pod (rules removed, "
                    + "listeners closed); their traffic then bypasses the proxy. keep: close the listeners but leave "
                    + "the rules and --state-file (needed): the pods' connections are refused (fail closed) until the "
                    + "next agent started with that state file takes them back; the rules go only with 'shuntctl "
                    + "uninstall' or 'shunt-agent uninstall-cni --state-file'. After a hand-over to a --take-over "
                    + "successor nothing is removed either way. Default: ${DEFAULT-VALUE}.")
    OnStop onStop;

    /** What a stop by signal does to the pods' rules. */
    enum OnStop {
        keep, remove
    }

    @CommandLine.Option(names = "--ready-file", paramLabel = "PATH",
            description = "Write this file once the agent serves (its pods taken back or, with --take-over, taken "
                    + "over; CNI, metrics and admin API up); delete it when the agent stops or hands over. It holds "
                    + "the agent's PID namespace as /proc/self/ns/pid reads, so a probe can tell it from a file left "
                    + "by an agent that was killed. For a Kubernetes startup probe: while a successor takes over, both "
                    + "agents share the node's loopback, and a probe of --metrics-address may reach the old one.")
    Path readyFile;

    @CommandLine.Option(names = "--state-file", paramLabel = "PATH",
            description = "Persist the intercepted pods here (e.g. /var/lib/shunt/pods.json); on start the agent "
                    + "takes them back, so a restart does not need the runtime to ADD them again.")
    Path stateFile;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    static final String VERSION = "0.1.0";

    private static final int CNI_CONCURRENCY = 16;
    private static final int ADMIN_CONCURRENCY = 8;
    private static final Duration ADMIN_REQUEST_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration UNINSTALL_REPLY_GRACE = Duration.ofMillis(300);
    private static final Duration CNI_REQUEST_TIMEOUT = Duration.ofSeconds(30);
    /** The safety net for a missed change notification; a notified change is handled at once. */
    private static final Duration CONFLIST_RECHECK = Duration.ofSeconds(30);

    private volatile NodeAgent agent;
    /** The node services started around the agent, newest first; closed in that order on stop. */
    private final java.util.concurrent.ConcurrentLinkedDeque<AutoCloseable> services =
            new java.util.concurrent.ConcurrentLinkedDeque<>();
    private volatile ConflistGuard conflistGuard;
    /** Once handed over: when this agent stops serving its open connections (System.nanoTime); null before. */
    private volatile Long drainDeadline;
    /** Live exclusion changes, kept beside the state file; null without one. */
    private ExclusionJournal exclusions;
    /** The ranking set live with technique set --default, kept beside the state file; null without one. */
    private RankingJournal rankings;

    @CommandLine.Option(names = "--log-format", paramLabel = "text|json", defaultValue = "text",
            description = "text: one line per event; json: one JSON object per line (an event about a pod carries "
                    + "its pod and technique as fields). Logs go to stderr. Default: ${DEFAULT-VALUE}.")
    LogFormat logFormat;

    /** How the log lines look; chosen before the first logger exists, so it is read from the raw arguments too. */
    enum LogFormat {
        text, json;

        /** Points logback at the configuration for the format {@code args} ask for (picocli validates it later). */
        static void selectFrom(String[] args) {
            args = expandArgumentFiles(args);
            for (int i = 0; i < args.length; i++) {
                String value = args[i].startsWith("--log-format=") ? args[i].substring("--log-format=".length())
                        : args[i].equals("--log-format") && i + 1 < args.length ? args[i + 1] : null;
                if ("json".equals(value)) {
                    System.setProperty("logback.configurationFile", "logback-json.xml");
                }
            }
        }
    }

    /**
     * The arguments with {@code @FILE} replaced by the file's whitespace-separated words, as picocli
     * will read them (enough to find --log-format in a DaemonSet's argument file); an unreadable
     * file is left for picocli to report.
     */
    static String[] expandArgumentFiles(String[] args) {
        List<String> expanded = new ArrayList<>();
        for (String arg : args) {
            if (arg.startsWith("@") && arg.length() > 1) {
                try {
                    for (String line : java.nio.file.Files.readAllLines(Path.of(arg.substring(1)))) {
                        if (!line.strip().startsWith("#")) {
                            expanded.addAll(java.util.Arrays.stream(line.strip().split("\\s+"))
                                    .filter(w -> !w.isEmpty()).map(w -> w.replaceAll("^[\"']|[\"']$", "")).toList());
                        }
                    }
                    continue;
                } catch (IOException | RuntimeException e) {
                    // picocli reports it
                }
            }
            expanded.add(arg);
        }
        return expanded.toArray(String[]::new);
    }

    /**
     * A message that quotes an argument, kept on one line whatever the argument holds: a line feed,
     * a carriage return or another control character is written as a Java escape, e.g. {@code \n}.
     */
    static String oneLine(String message) {
        StringBuilder line = new StringBuilder();
        String.valueOf(message).chars().forEach(c -> line.append(switch (c) {
            case '\n' -> "\\n";
            case '\r' -> "\\r";
            case '\t' -> "\t";
            default -> Character.isISOControl(c) ? String.format("\\u%04x", c) : String.valueOf((char) c);
        }));
        return line.toString();
    }

    /** Where CNI pods' cgroups are looked up, if anywhere. */
    private Optional<KubeletPodCgroups> podCgroups() throws IOException {
        if ("none".equals(podCgroupRoot)) {
            return Optional.empty();
        }
        Optional<Path> root = podCgroupRoot != null ? Optional.of(Path.of(podCgroupRoot)) : KubeletPodCgroups.cgroup2Mount();
        root.ifPresent(r -> org.slf4j.LoggerFactory.getLogger(StandaloneMain.class).info("CNI pods' cgroups are looked up under {} (kubelet layouts, by K8S_POD_UID)", r));
        return root.map(KubeletPodCgroups::new);
    }

    public static void main(String[] args) {
        // before any Netty class loads: the sockmap technique needs io_uring's one-shot POLLIN (Transport)
        Transport.preferOneShotPollIn();
        LogFormat.selectFrom(args);
        System.exit(commandLine(new StandaloneMain()).execute(args));
    }

    static CommandLine commandLine(StandaloneMain main) {
        return new CommandLine(main)
                .setParameterExceptionHandler((ex, args) -> {
                    ex.getCommandLine().getErr().println("shunt-agent: " + oneLine(ex.getMessage()));
                    ex.getCommandLine().getErr().println("Try 'shunt-agent --help'.");
                    return EXIT_USAGE;
                });
    }

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        AgentConfig config;
        List<PodSpec> podSpecs;
        try {
            config = options.toConfig();
            if (stateFile != null) {
                config = takeOver ? config : withJournals(config); // a successor reads them once its predecessor stopped changing them
            }
            Map<String, TechniqueId> pinned = options.pinnedTechniques();
            podSpecs = pods.stream().map(PodSpec::parse)
                    .map(p -> pinned.containsKey(p.name()) ? p.withTechnique(pinned.get(p.name())) : p).toList();
            Set<String> unknown = new TreeSet<>(pinned.keySet());
            podSpecs.forEach(p -> unknown.remove(p.name()));
            if (!unknown.isEmpty()) {
                throw new IllegalArgumentException("--pod-technique names pods that no --pod gives: " + unknown);
            }
        } catch (IllegalArgumentException e) {
            err.println("shunt-agent: " + oneLine(e.getMessage()));
            return EXIT_USAGE;
        } catch (IOException e) {
            err.println("shunt-agent: cannot read the live changes (exclusions, ranking) kept beside " + stateFile + ": "
                    + oneLine(e.getMessage()));
            return EXIT_FAILURE;
        }
        if (onStop == OnStop.keep && stateFile == null) {
            err.println("shunt-agent: --on-stop keep leaves the pods' rules for the next agent, which takes them back "
                    + "from --state-file; give --state-file PATH too");
            return EXIT_USAGE;
        }
        if (cniConfDir != null && cniSocket == null) {
            err.println("shunt-agent: --cni-conf-dir chains shunt-cni to this agent's CNI socket; give --cni-socket PATH too");
            return EXIT_USAGE;
        }
        OptOut optOut;
        ConflistInstaller conflist = null;
        InetSocketAddress metricsAt = null;
        try {
            optOut = options.optOut();
            if (metricsAddress != null) {
                metricsAt = AgentOptions.parseHostPort("--metrics-address", metricsAddress);
            }
            if (cniConfDir != null) {
                conflist = new ConflistInstaller(cniConfDir, Optional.ofNullable(cniConflist), cniBackupDir,
                        new ChainEntry(cniSocket.toAbsolutePath()));
            }
        } catch (IllegalArgumentException e) {
            err.println("shunt-agent: " + oneLine(e.getMessage()));
            return EXIT_USAGE;
        }
        if (podSpecs.isEmpty() && cniSocket == null) {
            err.println("shunt-agent: give at least one --pod NAME=NETNS, or --cni-socket PATH to receive pods through CNI");
            return EXIT_USAGE;
        }
        Optional<HandOver> predecessor;
        try {
            drainTimeout();
            predecessor = takeOver ? HandOver.prepare(adminSocket, stateFile) : Optional.empty();
        } catch (IllegalArgumentException e) {
            err.println("shunt-agent: " + oneLine(e.getMessage()));
            return EXIT_USAGE;
        } catch (IOException e) {
            err.println("shunt-agent: cannot take over: " + e.getMessage());
            return EXIT_FAILURE;
        }
        if (takeOver) {
            // The predecessor (if any) takes no live change from now on: the journals are final.
            try {
                config = withJournals(config);
            } catch (IOException e) {
                predecessor.ifPresent(HandOver::abort);
                err.println("shunt-agent: cannot read the live changes (exclusions, ranking) kept beside " + stateFile
                        + ": " + oneLine(e.getMessage()));
                return EXIT_FAILURE;
            }
        }
        if (readyFile != null) {
            try {
                java.nio.file.Files.deleteIfExists(readyFile); // an earlier agent's, which was killed
            } catch (IOException e) {
                predecessor.ifPresent(HandOver::abort);
                err.println("shunt-agent: cannot remove the old --ready-file " + readyFile + ": " + e.getMessage());
                return EXIT_FAILURE;
            }
        }
        try {
            agent = stateFile == null ? NodeAgent.start(config) : NodeAgent.start(config, new PodStore(stateFile));
        } catch (IOException e) {
            err.println("shunt-agent: cannot take back the pods persisted in " + stateFile + ": " + e.getMessage());
            return EXIT_FAILURE;
        }
        Thread stopper = new Thread(this::stopOnSignal, "shunt-agent-shutdown");
        Runtime.getRuntime().addShutdownHook(stopper);
        for (PodSpec pod : podSpecs) {
            if (agent.pod(pod.name()).filter(p -> p.spec().netns().equals(pod.netns())).isPresent()) {
                continue; // taken back from the state file already
            }
            try {
                agent.addPod(pod);
            } catch (IOException | RuntimeException e) {
                err.println("shunt-agent: " + e.getMessage());
                err.println("shunt-agent: releasing the pods intercepted so far; nothing stays installed");
                Runtime.getRuntime().removeShutdownHook(stopper);
                stop(false);
                return EXIT_FAILURE;
            }
        }
        if (predecessor.isPresent()) {
            if (agent.unrecoveredPods() > 0) {
                err.println("shunt-agent: could not take over " + agent.unrecoveredPods() + " of the pods in "
                        + stateFile + " (see the log); the old agent keeps them all");
                agent.handOver(); // their rules are the old agent's again: leave them
                predecessor.get().abort();
                Runtime.getRuntime().removeShutdownHook(stopper);
                stop();
                return EXIT_FAILURE;
            }
            try {
                predecessor.get().release();
            } catch (IOException e) {
                err.println("shunt-agent: the old agent did not let go: " + e.getMessage()
                        + "; both now serve the pods' listeners; stop the old one with SIGTERM only after this one");
                Runtime.getRuntime().removeShutdownHook(stopper);
                stop();
                return EXIT_FAILURE;
            }
        }
        try {
            startServices(optOut, conflist, metricsAt);
            writeReadyFile();
        } catch (StartException e) {
            err.println("shunt-agent: " + e.getMessage());
            Runtime.getRuntime().removeShutdownHook(stopper);
            stop();
            return EXIT_FAILURE;
        }
        spec.commandLine().getOut().println("shunt-agent ready: intercepting " + agent.pods().size() + " pod(s) on "
                + config.engine().transport().id() + ": " + agent.pods().stream()
                .map(p -> p.name() + "=" + p.technique().id()).sorted().collect(Collectors.joining(", ")));
        spec.commandLine().getOut().flush();
        // Everything from here on happens in the shutdown hook, on SIGTERM or SIGINT.
        new CountDownLatch(1).await();
        return 0;
    }

    /**
     * The command line's configuration with the live changes kept beside the state file applied:
     * the exclusions changed with shuntctl exclude on top of its policy, and the ranking set with
     * shuntctl technique set --default instead of its --technique.
     */
    private AgentConfig withJournals(AgentConfig commandLine) throws IOException {
        exclusions = ExclusionJournal.besides(stateFile);
        rankings = RankingJournal.besides(stateFile);
        return commandLine.withPolicy(exclusions.applyTo(commandLine.policy()))
                .withRanking(rankings.applyTo(commandLine.ranking()));
    }

    /** --ready-file: this agent serves; its content says which process wrote it (see the option). */
    private void writeReadyFile() throws StartException {
        if (readyFile != null) {
            try {
                String pidNamespace = java.nio.file.Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
                io.shunt.agent.AtomicFile.replace(readyFile, (pidNamespace + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8),
                        java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            } catch (IOException e) {
                throw new StartException("cannot write --ready-file " + readyFile + ": " + e.getMessage());
            }
        }
    }

    private void deleteReadyFile() {
        if (readyFile != null) {
            try {
                java.nio.file.Files.deleteIfExists(readyFile);
            } catch (IOException e) {
                System.err.println("shunt-agent: cannot remove --ready-file " + readyFile + ": " + e.getMessage());
            }
        }
    }

    /** Starts (or, after an abandoned hand-over, restarts) the CNI endpoint. */
    private volatile StartStep startCni = () -> { };

    @FunctionalInterface
    private interface StartStep {
        void run() throws StartException;
    }

    /** A node service that could not start; the message names it and the cause. */
    private static final class StartException extends Exception {
        StartException(String message) {
            super(message);
        }
    }

    /** One node service to start; what it returns is closed, in reverse order, when the agent stops. */
    @FunctionalInterface
    private interface Service {
        AutoCloseable start() throws IOException;
    }

    private void startService(String what, Service service) throws StartException {
        try {
            services.push(service.start());
        } catch (IOException | RuntimeException e) {
            throw new StartException(what + ": " + e.getMessage());
        }
    }

    /**
     * The node services around the agent, in the order that keeps pods from slipping through: the
     * Kubernetes watcher before CNI (ADD waits until the node's pods are listed), CNI before the
     * conflist entry (a pod added through the new entry finds the agent).
     */
    private void startServices(OptOut optOut, ConflistInstaller conflist, InetSocketAddress metricsAt)
            throws StartException {
        PodAdmission admission = PodAdmission.of(optOut);
        if (kubeNodeName != null) {
            KubePodSync sync = new KubePodSync(agent, optOut);
            startService("cannot reach the Kubernetes API", () -> kubeconfig == null ? KubeClients.inCluster()
                    : KubeClients.fromKubeconfig(kubeconfig));
            KubernetesClient client = (KubernetesClient) services.peek();
            startService("cannot watch the Kubernetes API for node " + kubeNodeName,
                    () -> PodWatcher.start(client, kubeNodeName, sync));
            admission = sync;
        }
        PodAdmission admitted = admission;
        startCni = () -> {
            if (cniSocket != null) {
                startService("cannot serve CNI on " + cniSocket, () -> CniEndpoint.start(cniSocket,
                        new CniPods(agent, admitted, podCgroups()), CNI_CONCURRENCY, CNI_REQUEST_TIMEOUT));
            }
        };
        startCni.run();
        if (metricsAt != null) {
            startService("cannot serve metrics", () -> MetricsServer.start(metricsAt, agent));
        }
        if (adminSocket != null) {
            startService("cannot serve the admin API on " + adminSocket, () -> AdminEndpoint.start(adminSocket,
                    new AdminService(agent, VERSION, lifecycle(conflist), Optional.ofNullable(exclusions),
                            Optional.ofNullable(rankings)), ADMIN_CONCURRENCY, ADMIN_REQUEST_TIMEOUT));
        }
        if (conflist != null) {
            startService("cannot chain shunt-cni into " + cniConfDir, () -> {
                conflistGuard = ConflistGuard.start(conflist, CONFLIST_RECHECK);
                return conflistGuard;
            });
        }
    }

    /** What {@code shuntctl uninstall} and an upgrade's hand-over do beyond the pods, and how they end the agent. */
    private AdminService.Lifecycle lifecycle(ConflistInstaller conflist) {
        return new AdminService.Lifecycle() {
            @Override
            public String prepareHandOver() {
                // No new pods from here on: the successor reads the state file once we stopped changing it.
                closeServices(CniEndpoint.class);
                HandOver.log().info("hand-over prepared: the CNI endpoint is closed; {} pod(s) recorded in {}",
                        agent.pods().size(), stateFile);
                return "CNI endpoint closed; " + agent.pods().size() + " pod(s) recorded in " + stateFile;
            }

            @Override
            public String abortHandOver() {
                try {
                    startCni.run();
                } catch (StartException e) {
                    return "could not serve CNI again: " + e.getMessage();
                }
                HandOver.log().info("hand-over abandoned by the successor; taking new pods again");
                return "taking new pods again";
            }

            @Override
            public String releaseHandOver() {
                drainDeadline = System.nanoTime() + drainTimeout().toNanos();
                agent.handOver();
                deleteReadyFile();
                // The successor binds these next; the admin socket goes once this reply is out.
                closeServices(MetricsServer.class, ConflistGuard.class);
                Thread.ofPlatform().name("shunt-agent-drain").start(() -> {
                    sleepQuietly(UNINSTALL_REPLY_GRACE);
                    closeServices(AdminEndpoint.class);
                    awaitDrain();
                    HandOver.log().info("drained: {} connection(s) still open at exit", agent.openConnections());
                    System.exit(0);
                });
                return "handed over; serving " + agent.openConnections() + " open connection(s) for at most "
                        + drainTimeout().toSeconds() + " s, then exiting";
            }

            @Override
            public List<String> removeNodeInstall() {
                List<String> left = new ArrayList<>();
                if (conflist != null) {
                    ConflistGuard guard = conflistGuard;
                    if (guard != null) {
                        guard.close(); // or it would put the entry straight back
                    }
                    try {
                        conflist.uninstall();
                        conflist.chaining().forEach(f -> left.add("CNI configuration " + f + " still chains shunt-cni"));
                    } catch (IOException e) {
                        left.add("CNI configuration in " + conflist.confDir() + ": " + e.getMessage());
                    }
                }
                if (stateFile != null) {
                    try {
                        if (exclusions != null) {
                            java.nio.file.Files.deleteIfExists(exclusions.file());
                        }
                        if (rankings != null) {
                            java.nio.file.Files.deleteIfExists(rankings.file());
                        }
                        java.nio.file.Files.deleteIfExists(stateFile);
                    } catch (IOException e) {
                        left.add("state file " + stateFile + ": " + e.getMessage());
                    }
                }
                return left;
            }

            @Override
            public void stopAgent() {
                // After the reply has gone out; exiting runs the shutdown hook, which closes the sockets.
                Thread.ofPlatform().name("shunt-agent-uninstall").start(() -> {
                    sleepQuietly(UNINSTALL_REPLY_GRACE);
                    System.exit(0);
                });
            }
        };
    }

    /** Closes (and forgets) the started services of these kinds, newest first. */
    private void closeServices(Class<?>... kinds) {
        for (AutoCloseable service : List.copyOf(services)) {
            if (java.util.Arrays.stream(kinds).anyMatch(k -> k.isInstance(service)) && services.remove(service)) {
                try {
                    service.close();
                } catch (Exception e) {
                    System.err.println("shunt-agent: stopping " + service + ": " + e.getMessage());
                }
            }
        }
    }

    private static void sleepQuietly(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Duration drainTimeout() {
        return AgentOptions.parseDuration("--drain-timeout", drainTimeout);
    }

    /** After a hand-over: until this agent's open connections have ended, or its --drain-timeout. */
    private void awaitDrain() {
        Long deadline = drainDeadline;
        while (deadline != null && agent.openConnections() > 0 && System.nanoTime() - deadline < 0) {
            sleepQuietly(Duration.ofMillis(100));
        }
    }

    /**
     * Runs in the shutdown hook. A JVM ended by a signal exits with 128+signal even when its hooks
     * succeed; halting here instead reports what operators care about: 0 when every rule was
     * removed (or, with --on-stop keep, left as asked), 1 when some could not be removed.
     */
    private void stopOnSignal() {
        NodeAgent a = agent;
        if (a != null && a.handedOver() && drainDeadline != null && a.openConnections() > 0) {
            // A SIGTERM after the hand-over (kubelet deleting the old pod once the new one is ready)
            // does not cut the drain short: the open connections keep flowing until they end or the
            // --drain-timeout, and nothing is removed.
            HandOver.log().info("stopping after the hand-over: serving {} open connection(s) until they end or "
                    + "the drain timeout", a.openConnections());
            awaitDrain();
        }
        Runtime.getRuntime().halt(stop() ? 0 : EXIT_FAILURE);
    }

    /** Stops as --on-stop says. */
    private boolean stop() {
        return stop(onStop == OnStop.keep);
    }

    /**
     * Releases every pod, or with {@code keepRules} leaves their rules for the next agent; returns
     * false, after saying which, when some rules could not be removed.
     */
    private boolean stop(boolean keepRules) {
        deleteReadyFile();
        // Newest first: the conflist entry stays, the endpoints stop taking requests, then the pods go.
        for (AutoCloseable service; (service = services.poll()) != null; ) {
            try {
                service.close();
            } catch (Exception e) {
                System.err.println("shunt-agent: stopping " + service + ": " + e.getMessage());
            }
        }
        NodeAgent a = agent;
        if (a == null) {
            return true;
        }
        if (keepRules) {
            a.leaveRulesOnClose();
        }
        try {
            a.close();
            return true;
        } catch (IOException e) {
            System.err.println("shunt-agent: " + e.getMessage());
            return false;
        } finally {
            System.out.flush();
            System.err.flush();
        }
    }
}
