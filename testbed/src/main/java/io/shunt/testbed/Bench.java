package io.shunt.testbed;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.probe.KernelFeatures;
import io.shunt.hijack.probe.KernelProbe;
import io.shunt.hijack.select.Selector;
import io.shunt.hijack.select.Verdict;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code ./shunt bench} (issue #7): HTTP and bulk throughput through each interception technique,
 * versus direct and versus HAProxy behind nftables REDIRECT, measured in one run on one topology.
 * One pod per technique: the agent (a separate process, on the transport {@code --transport} names)
 * intercepts pod-a with redirect, pod-b with tproxy, pod-c with tc; a second agent, on the same
 * transport, intercepts pod-d with sockmap from a cgroup of its own, where the row's
 * clients run too ({@link SockmapAgent}). The next pod is not intercepted; in the last, HAProxy 2.6
 * runs behind REDIRECT ({@link HaproxyReference}). A technique the kernel does not offer is not
 * measured, and the run says why.
 * All load the same upstream: wrk keep-alive at each connection count and with a new connection
 * per request, and iperf3, one stream each way. Modes alternate within each round so drift on a
 * shared machine hits them alike; the table shows medians over the rounds. The proxy's CPU time
 * is sampled from {@code /proc} around each run, its memory at the end.
 */
public final class Bench {
    private static final String TAG = "bench";
    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private final PrintStream out = System.out;
    private final Options options;
    private final long started = System.nanoTime();
    private final long deadline;

    private Bench(Options options) {
        this.options = options;
        this.deadline = started + options.timeLimit().toNanos();
    }

    /**
     * The command line, validated. {@code --quick} changes only the defaults: options given
     * explicitly still win.
     */
    record Options(Duration duration, int rounds, List<Integer> connections, int newConnections, Duration bulkDuration,
                   Duration warmup, String transport, Duration timeLimit, boolean quick, Path json) {
        static final String USAGE = """
                Usage: ./shunt bench [--quick] [--seconds N] [--rounds N] [--connections 1,32] [--new-connections 32|0]
                                     [--bulk-seconds N|0] [--transport auto|io_uring|epoll|nio] [--time-limit S]
                                     [--json FILE]
                Measures, in one run on one namespace topology (needs root), each of Shunt's techniques
                (pod-a redirect, pod-b tproxy, pod-c tc: the agent as its own process; pod-d sockmap: a
                second agent, on the same transport, in a cgroup v2 group of its own with the row's clients) against direct
                (pod-e) and against HAProxy 2.6 behind nftables REDIRECT (pod-f), all to the same upstream:
                  - HTTP/1.1 with wrk: req/s, p50, p99, keep-alive at each connection count, and with a new
                    connection per request (new connections/s);
                  - bulk TCP with iperf3, one stream, pod to upstream and upstream to pod (Gbit/s);
                  - the proxy's CPU seconds per 1,000 requests (per GB in bulk), from /proc/<pid>/stat of
                    the agent and of haproxy, and their VmRSS at the end.
                Prints medians over the rounds with ratios to direct and to HAProxy, and the issue-#7
                targets met or not; writes the same to JSON.

                  --quick             1 round, 2 s runs, 1 s warm-up, time limit 120 s (about 75 s)
                  --seconds N         each wrk run, 1..60 (default 5)
                  --rounds N          1..9 (default 3)
                  --connections LIST  keep-alive connection counts, each 1..512 (default 1,32)
                  --new-connections N connections for the new-connection-per-request load, 0 to skip (default 32)
                  --bulk-seconds N    each iperf3 run, 0 to skip bulk, at most 60 (default: --seconds)
                  --transport NAME    passed to the agents (default auto)
                  --time-limit S      refuse a plan estimated longer, and give up (cleaning up) past it,
                                      60..3600 (default 600)
                  --json FILE         also write the figures here (default target/bench.json)""";

        /** direct, one per technique, HAProxy. */
        static final int MODES = TechniqueId.values().length + 2;
        /** What the estimate allows for starting and ending one wrk or iperf3 run. */
        static final double PER_RUN_SECONDS = 0.5;
        static final int SETUP_SECONDS = 20;
        private static final List<String> VALUED = List.of("--seconds", "--rounds", "--connections",
                "--new-connections", "--bulk-seconds", "--transport", "--time-limit", "--json");

        Options {
            connections = List.copyOf(connections);
        }

        /**
         * Parses {@code args}; null for {@code --help}.
         *
         * @throws IllegalArgumentException naming the option and the value that is wrong
         */
        static Options parse(String... args) {
            Map<String, String> given = new LinkedHashMap<>();
            boolean quick = false;
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                if (arg.equals("--help") || arg.equals("-h")) {
                    return null;
                }
                if (arg.equals("--quick")) {
                    quick = true;
                    continue;
                }
                if (!VALUED.contains(arg)) {
                    throw new IllegalArgumentException("unknown argument '" + arg + "'");
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(arg + " needs a value");
                }
                given.put(arg, args[++i]);
            }
            int seconds = OptionValues.integer(given, "--seconds", quick ? 2 : 5, 1, 60);
            int rounds = OptionValues.integer(given, "--rounds", quick ? 1 : 3, 1, 9);
            List<Integer> connections = connections(given.getOrDefault("--connections", "1,32"));
            int newConnections = OptionValues.integer(given, "--new-connections", 32, 0, 512);
            int bulkSeconds = OptionValues.integer(given, "--bulk-seconds", seconds, 0, 60);
            int timeLimit = OptionValues.integer(given, "--time-limit", quick ? 120 : 600, 60, 3600);
            String transport = given.getOrDefault("--transport", "auto");
            if (!transport.matches("[a-z0-9_]+")) {
                throw new IllegalArgumentException("--transport '" + transport + "': give a name such as auto, io_uring,"
                        + " epoll or nio");
            }
            Options options = new Options(Duration.ofSeconds(seconds), rounds, connections, newConnections,
                    Duration.ofSeconds(bulkSeconds), Duration.ofSeconds(quick ? 1 : 2), transport,
                    Duration.ofSeconds(timeLimit), quick, Path.of(given.getOrDefault("--json", "target/bench.json")));
            long estimate = options.estimatedSeconds(MODES);
            if (estimate > timeLimit) {
                throw new IllegalArgumentException("this plan takes about " + estimate + " s, over the time limit of "
                        + timeLimit + " s: lower --seconds, --rounds or --bulk-seconds, or raise --time-limit");
            }
            return options;
        }

        /** The loads wrk runs in each round, in order. */
        List<BenchReport.Load> loads() {
            List<BenchReport.Load> loads = new ArrayList<>();
            connections.forEach(c -> loads.add(new BenchReport.Load(c, false)));
            if (newConnections > 0) {
                loads.add(new BenchReport.Load(newConnections, true));
            }
            return loads;
        }

        /**
         * A generous estimate of the whole run for {@code modes} modes: every wrk and iperf3 run
         * plus {@value #PER_RUN_SECONDS} s each for starting and ending it, the warm-ups, and
         * {@value #SETUP_SECONDS} s for the topology, both agents, HAProxy, the checks and the
         * clean-up (measured: about 7 s). Measured: a
         * {@code --quick} run of 6 modes took 73 s in all, 66 s of them wrk and iperf3 runs, on a
         * loaded machine.
         */
        long estimatedSeconds(int modes) {
            double wrk = (double) rounds * loads().size() * modes * (duration.toSeconds() + PER_RUN_SECONDS);
            double bulk = bulkDuration.isZero() ? 0 : (double) rounds * 2 * modes * (bulkDuration.toSeconds() + PER_RUN_SECONDS);
            return (long) Math.ceil(wrk + bulk + modes * warmupKinds().size() * (warmup.toSeconds() + PER_RUN_SECONDS) + SETUP_SECONDS);
        }

        /** The warm-up runs of each mode: keep-alive, and new connections when they are measured. */
        List<Boolean> warmupKinds() {
            return newConnections > 0 ? List.of(false, true) : List.of(false);
        }

        private static List<Integer> connections(String value) {
            List<Integer> list = new ArrayList<>();
            for (String part : value.split(",", -1)) {
                try {
                    int c = Integer.parseInt(part.strip());
                    if (c >= 1 && c <= 512) {
                        if (!list.contains(c)) {
                            list.add(c);
                        }
                        continue;
                    }
                } catch (NumberFormatException e) {
                    // reported below
                }
                throw new IllegalArgumentException("--connections " + value + ": '" + part + "' is not a connection count"
                        + " from 1 to 512; give comma-separated numbers, e.g. 1,32");
            }
            return list;
        }

    }

    /** What goes to the JSON file. */
    record Json(String date, String transport, Map<String, String> transports, String agentReady,
                String sockmapAgentReady, String sockmapCgroup, Map<String, String> notMeasured,
                String haproxyVersion, int cores, boolean quick,
                int rounds, long seconds, long bulkSeconds, double elapsedSeconds, String loadAverageAtStart,
                String loadAverageAtEnd, List<BenchReport.LoadRow> results,
                List<BenchReport.BulkRow> bulk, List<BenchReport.MemoryRow> memory,
                HaproxyReference.Counters haproxyRules, List<BenchReport.Target> targets) {
    }

    public static void main(String[] args) throws Exception {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("shunt bench: " + e.getMessage() + "; see ./shunt bench --help");
            System.exit(2);
            return;
        }
        if (options == null) {
            System.out.println(Options.USAGE);
            return;
        }
        if (new Bench(options).run() > 0) {
            System.exit(1);
        }
    }

    /** The row of a technique: its id. */
    static String mode(TechniqueId technique) {
        return technique.id();
    }

    /** Runs the bench; returns how many runs of Shunt's techniques failed (their rows say so). */
    private int run() throws Exception {
        List<TechniqueId> techniques = List.of(TechniqueId.values());
        long estimate = options.estimatedSeconds(Options.MODES);
        requireTool("wrk", "--version");
        if (!options.bulkDuration().isZero()) {
            requireTool("iperf3", "--version");
        }
        String haproxyVersion = HaproxyReference.version();
        String loadAtStart = BenchProc.loadAverage();
        // What the kernel does not offer is not measured; the run says why, as the agent would.
        KernelFeatures features = KernelProbe.run();
        Map<String, String> notMeasured = new LinkedHashMap<>();
        List<TechniqueId> offered = new ArrayList<>();
        for (TechniqueId technique : techniques) {
            Verdict verdict = new Selector(List.of(technique)).assess(features).getFirst();
            if (verdict.outcome() == Verdict.Outcome.SKIPPED) {
                notMeasured.put(mode(technique), "the kernel does not offer it: " + verdict.reason());
            } else {
                offered.add(technique);
            }
        }
        List<TechniqueId> inMainAgent = offered.stream().filter(t -> t != TechniqueId.SOCKMAP).toList();
        boolean sockmap = offered.contains(TechniqueId.SOCKMAP);
        if (inMainAgent.isEmpty()) {
            throw new IllegalStateException("the kernel offers none of redirect, tproxy and tc: " + notMeasured);
        }
        List<String> techniqueModes = offered.stream().map(Bench::mode).toList();
        // Table order: the control first, Shunt's techniques, the reference last.
        List<String> modes = new ArrayList<>();
        modes.add(BenchReport.DIRECT);
        modes.addAll(techniqueModes);
        modes.add(BenchReport.HAPROXY);
        Topology.removeLeftovers(TAG);

        List<Long> daemonPids = new ArrayList<>();
        int failedRuns;
        // Pods: one per technique (pod-a, pod-b, ...), offered or not, then direct, then HAProxy.
        try (Topology topology = Topology.create(TAG, techniques.size() + 2); NetNs up = topology.upstream().open()) {
            Map<String, PodNs> pods = new LinkedHashMap<>();
            pods.put(BenchReport.DIRECT, topology.pod(techniques.size()));
            for (TechniqueId technique : offered) {
                pods.put(mode(technique), topology.pod(techniques.indexOf(technique)));
            }
            pods.put(BenchReport.HAPROXY, topology.pod(techniques.size() + 1));
            List<String> agentArgs = new ArrayList<>();
            for (TechniqueId technique : inMainAgent) {
                PodNs pod = pods.get(mode(technique));
                agentArgs.addAll(List.of("--pod", pod.name() + "=" + pod.netnsPath(),
                        "--pod-technique", pod.name() + "=" + technique.id()));
            }
            agentArgs.addAll(List.of("--transport", options.transport()));
            InetSocketAddress service = new InetSocketAddress(topology.serviceAddress(0), 8080);
            InetSocketAddress bulkService = new InetSocketAddress(topology.serviceAddress(0), Iperf3.PORT);
            String url = "http://" + service.getAddress().getHostAddress() + ":" + service.getPort() + "/";
            try (HttpServer server = HttpServer.start(up, service);
                 BenchDaemon iperf = options.bulkDuration().isZero() ? null
                         : Iperf3.startServer(topology.upstream().netnsName(), bulkService);
                 AgentProcess agent = AgentProcess.start(agentArgs, null, Duration.ofSeconds(60));
                 AgentStopper stopper = new AgentStopper(agent);
                 // started after the first agent: both mount the harness's bpffs on first use
                 SockmapAgent sockmapAgent = sockmap ? SockmapAgent.start(pods.get(mode(TechniqueId.SOCKMAP)), options.transport(), null,
                         Duration.ofSeconds(60)) : null;
                 HaproxyReference haproxy = HaproxyReference.start(pods.get(BenchReport.HAPROXY))) {
                this.sockmapAgent = sockmapAgent;
                if (iperf != null) {
                    daemonPids.add(iperf.pid());
                }
                daemonPids.add(haproxy.pid());
                String agentReady = readyLine(agent.output());
                String sockmapReady = sockmapAgent == null ? null : readyLine(sockmapAgent.output());
                Map<String, Long> proxyPid = new LinkedHashMap<>();
                Map<String, String> transports = new LinkedHashMap<>();
                for (TechniqueId technique : offered) {
                    boolean own = technique == TechniqueId.SOCKMAP;
                    proxyPid.put(mode(technique), own ? sockmapAgent.pid() : agent.pid());
                    transports.put(mode(technique), agentTransport(own ? sockmapReady : agentReady));
                }
                proxyPid.put(BenchReport.HAPROXY, haproxy.pid());

                out.printf(Locale.ROOT, "Shunt bench%s: HTTP/1.1 %d-byte body, wrk %d s per run; iperf3 %s; %d round(s);"
                                + " %d cores, load average %s; estimated %d s%n", options.quick() ? " --quick" : "",
                        HttpServer.BODY_LENGTH, options.duration().toSeconds(), options.bulkDuration().isZero() ? "skipped"
                                : options.bulkDuration().toSeconds() + " s per run, 1 stream",
                        options.rounds(), Runtime.getRuntime().availableProcessors(), loadAtStart, estimate);
                out.println("agent: " + agentReady + " (pid " + agent.pid() + ")");
                if (sockmapAgent != null) {
                    out.println("sockmap agent: " + sockmapReady + " (pid " + sockmapAgent.pid() + ", in cgroup "
                            + sockmapAgent.cgroup().dir() + " with the row's clients)");
                }
                out.println("haproxy " + haproxyVersion + ": pid " + haproxy.pid() + " in " + pods.get(BenchReport.HAPROXY)
                        + ", TCP mode, nbthread " + HaproxyReference.THREADS + ", behind nft REDIRECT to :"
                        + HaproxyReference.PORT);
                pods.forEach((mode, pod) -> out.println("  " + mode + ": " + pod));
                notMeasured.forEach((mode, why) -> out.println("  " + mode + ": not measured, " + why));

                verifyHaproxyPath(up, topology, pods.get(BenchReport.HAPROXY), server, haproxy);
                verifyTechniquePaths(server, pods, techniqueModes);

                for (String mode : modes) {
                    // JIT, connection setup and pools; not measured. Every kind of load, so the first
                    // row of each agent does not pay for compiling a code path the others then reuse
                    // (the accept, connect and close path runs only under new connections).
                    for (boolean newConnectionEach : options.warmupKinds()) {
                        asClientOf(mode, () -> wrk(pods.get(mode), url, 32, newConnectionEach, options.warmup()));
                    }
                }
                Map<BenchReport.Load, Map<String, List<BenchReport.LoadSample>>> loadSamples = new LinkedHashMap<>();
                Map<String, Map<String, List<BenchReport.BulkSample>>> bulkSamples = new LinkedHashMap<>();
                // A technique's failed run is a result, shown in its row; direct's or HAProxy's ends the bench.
                Map<BenchReport.Load, Map<String, List<String>>> loadFailures = new LinkedHashMap<>();
                Map<String, Map<String, List<String>>> bulkFailures = new LinkedHashMap<>();
                for (int round = 1; round <= options.rounds(); round++) {
                    for (BenchReport.Load load : options.loads()) {
                        for (String mode : modes) {
                            checkDeadline("at " + load.label() + " of round " + round);
                            List<BenchReport.LoadSample> samples = loadSamples.computeIfAbsent(load, k -> new LinkedHashMap<>())
                                    .computeIfAbsent(mode, k -> new ArrayList<>());
                            String failure = measure(techniqueModes, mode, () -> samples.add(asClientOf(mode,
                                    () -> sample(pods.get(mode), url, load, proxyPid.get(mode)))));
                            if (failure != null) {
                                loadFailures.computeIfAbsent(load, k -> new LinkedHashMap<>())
                                        .computeIfAbsent(mode, k -> new ArrayList<>()).add(failure);
                                out.println(mode + ", " + load.label() + ", round " + round + ": the run FAILED: " + failure);
                            }
                        }
                    }
                    if (iperf != null) {
                        for (String direction : List.of(BenchReport.UPLOAD, BenchReport.DOWNLOAD)) {
                            for (String mode : modes) {
                                checkDeadline("at bulk " + direction + " of round " + round);
                                List<BenchReport.BulkSample> samples = bulkSamples.computeIfAbsent(direction,
                                        k -> new LinkedHashMap<>()).computeIfAbsent(mode, k -> new ArrayList<>());
                                String failure = measure(techniqueModes, mode, () -> samples.add(asClientOf(mode,
                                        () -> bulkSample(pods.get(mode), bulkService, direction.equals(BenchReport.DOWNLOAD),
                                                proxyPid.get(mode)))));
                                if (failure != null) {
                                    bulkFailures.computeIfAbsent(direction, k -> new LinkedHashMap<>())
                                            .computeIfAbsent(mode, k -> new ArrayList<>()).add(failure);
                                    out.println(mode + ", bulk " + direction + ", round " + round + ": the run FAILED: "
                                            + failure);
                                }
                            }
                        }
                    }
                    out.printf(Locale.ROOT, "round %d of %d done (%.0f s)%n", round, options.rounds(), elapsedSeconds());
                }

                List<BenchReport.MemoryRow> memory = new ArrayList<>();
                memory.add(memoryRow("agent", agent.pid()));
                if (sockmapAgent != null) {
                    memory.add(memoryRow("sockmap agent", sockmapAgent.pid()));
                }
                memory.add(memoryRow("haproxy", haproxy.pid()));
                HaproxyReference.Counters counters = haproxy.counters();
                if (!haproxy.alive()) {
                    throw new IllegalStateException("haproxy exited during the run; its output:\n" + haproxy.output());
                }

                List<BenchReport.LoadRow> loadRows = BenchReport.loadRows(loadSamples, loadFailures, modes);
                List<BenchReport.BulkRow> bulkRows = BenchReport.bulkRows(bulkSamples, bulkFailures, modes);
                failedRuns = loadRows.stream().mapToInt(BenchReport.LoadRow::failedRuns).sum()
                        + bulkRows.stream().mapToInt(BenchReport.BulkRow::failedRuns).sum();
                List<BenchReport.Target> targets = BenchReport.targets(loadRows, bulkRows, techniqueModes, memory.getFirst(),
                        inMainAgent.size());
                out.println();
                out.print(BenchReport.render(loadRows, bulkRows, memory, targets));
                String loadAtEnd = BenchProc.loadAverage();
                out.printf(Locale.ROOT, "%nHAProxy's rules over the run: %,d connections redirected to haproxy, %,d of haproxy's"
                        + " own let out (its upstream legs)%n", counters.redirected(), counters.bypassed());
                notMeasured.forEach((mode, why) -> out.println(mode + ": not measured, " + why));
                out.printf(Locale.ROOT, "transport: %s; load average (1, 5, 15 min) %s at the start, %s at the end: other work"
                        + " on the machine shows there%n", describe(transports), loadAtStart, loadAtEnd);
                Json json = new Json(Instant.now().toString(), agentTransport(agentReady), transports, agentReady,
                        sockmapReady, sockmapAgent == null ? null : sockmapAgent.cgroup().dir().toString(), notMeasured,
                        haproxyVersion, Runtime.getRuntime().availableProcessors(), options.quick(), options.rounds(),
                        options.duration().toSeconds(), options.bulkDuration().toSeconds(), Math.round(elapsedSeconds()),
                        loadAtStart, loadAtEnd, loadRows, bulkRows, memory, counters, targets);
                Path file = options.json().toAbsolutePath();
                Files.createDirectories(file.getParent());
                JSON.writeValue(file.toFile(), json);
                out.println("figures also written to " + options.json());

                if (sockmapAgent != null) {
                    if (sockmapAgent.stop(Duration.ofSeconds(20)) != 0) {
                        throw new IllegalStateException("the sockmap agent did not stop cleanly");
                    }
                    sockmapAgent.removeCgroup();
                    if (Files.exists(sockmapAgent.cgroup().dir())) {
                        throw new IllegalStateException("the sockmap row's cgroup is still there: " + sockmapAgent.cgroup().dir());
                    }
                }
                if (agent.stop(Duration.ofSeconds(20)) != 0) {
                    throw new IllegalStateException("the agent did not stop cleanly");
                }
            }
        }
        List<Long> left = BenchDaemon.stillRunning(daemonPids);
        if (!left.isEmpty()) {
            throw new IllegalStateException("processes the bench started are still running: " + left);
        }
        out.printf(Locale.ROOT, "clean-up checked: namespaces deleted, agent%s, haproxy and iperf3 ended (%.0f s in all)%n",
                sockmap ? "s ended, the sockmap row's cgroup removed" : "", elapsedSeconds());
        if (failedRuns > 0) {
            out.println(failedRuns + " run(s) of Shunt's techniques FAILED; their rows above say which and why (exit status 1)");
        }
        return failedRuns;
    }

    /** One measured run. */
    @FunctionalInterface
    private interface Run {
        void run() throws IOException;
    }

    /**
     * Runs {@code run}; for a technique's mode, a failure (the load saw errors, or its tool failed)
     * is returned as its reason, a line; for direct and HAProxy it is thrown, as is an interruption.
     */
    private static String measure(List<String> techniqueModes, String mode, Run run) throws IOException {
        try {
            run.run();
            return null;
        } catch (java.io.InterruptedIOException e) {
            throw e;
        } catch (IOException | IllegalStateException e) {
            if (!techniqueModes.contains(mode)) {
                throw e;
            }
            return String.valueOf(e.getMessage()).lines().findFirst().orElse("?");
        }
    }

    /** The sockmap row's agent while the run has one: its clients run in its cgroup. */
    private SockmapAgent sockmapAgent;

    /** Runs {@code action}, which starts the clients of {@code mode}'s pod, where that pod's clients belong. */
    private <T> T asClientOf(String mode, SockmapAgent.Action<T> action) throws IOException {
        return mode.equals(mode(TechniqueId.SOCKMAP)) ? sockmapAgent.inGroup(action) : action.run();
    }

    private static String readyLine(List<String> output) {
        return output.stream().filter(l -> l.startsWith("shunt-agent ready")).findFirst().orElse("?");
    }

    private static BenchReport.MemoryRow memoryRow(String process, long pid) throws IOException {
        BenchProc.Memory m = BenchProc.memory(pid);
        return new BenchReport.MemoryRow(process, pid, m.vmRssKib(), m.rssAnonKib());
    }

    /** E.g. {@code redirect, tproxy, tc on io_uring; sockmap (nio) on nio}. */
    static String describe(Map<String, String> transports) {
        Map<String, List<String>> byTransport = new LinkedHashMap<>();
        transports.forEach((mode, transport) -> byTransport.computeIfAbsent(transport, k -> new ArrayList<>()).add(mode));
        List<String> parts = new ArrayList<>();
        byTransport.forEach((transport, modes) -> parts.add(String.join(", ", modes) + " on " + transport));
        return String.join("; ", parts);
    }

    /**
     * Checks, before anything is measured, that each technique's pod is intercepted: one request
     * from the pod (made where its clients run) must reach the upstream as exactly one new
     * connection, from the pod's address but not from the pod's own socket, so a proxy made it. A
     * pod whose traffic went straight out (for sockmap: a client outside the pod's cgroup) would
     * be measured as direct.
     */
    private void verifyTechniquePaths(HttpServer server, Map<String, PodNs> pods, List<String> techniqueModes)
            throws IOException {
        for (String mode : techniqueModes) {
            PodNs pod = pods.get(mode);
            long accepted = server.accepted();
            int seen = server.peers().size();
            int localPort = asClientOf(mode, () -> {
                try (NetNs podNs = pod.open()) {
                    return request(podNs, server.address());
                }
            });
            InetSocketAddress peer = server.accepted() == accepted + 1 ? server.peers().get(seen) : null;
            if (peer == null || !peer.getAddress().equals(pod.address()) || peer.getPort() == localPort) {
                throw new IllegalStateException("interception check of " + mode + ": one request from " + pod + " (port "
                        + localPort + ") reached " + text(server.address()) + " as " + (server.accepted() - accepted)
                        + " connection(s)" + (peer == null ? "" : ", from " + peer) + "; expected one, from a proxy's socket");
            }
        }
        out.println("interception check: one request from each technique's pod (" + String.join(", ", techniqueModes)
                + ") reached the upstream from a proxy's socket, not the client's");
    }

    /**
     * Checks, before anything is measured, that HAProxy is in its pod's path and reaches the original
     * destination without looping: one request from its pod to each of two upstream servers (the
     * bench's service and a second address and port) must be answered, and each server must see
     * exactly one new connection, from the pod's address but from another port than the pod's own
     * socket (so a proxy in the pod made it: HAProxy, the only listener there). With a loop, HAProxy
     * would connect to itself and no server would see the connection.
     */
    private void verifyHaproxyPath(NetNs up, Topology topology, PodNs pod, HttpServer server, HaproxyReference haproxy)
            throws IOException {
        HaproxyReference.Counters before = haproxy.counters();
        InetSocketAddress probeAddress = new InetSocketAddress(topology.serviceAddress(1), 9090);
        try (NetNs podNs = pod.open(); HttpServer probe = HttpServer.start(up, probeAddress)) {
            for (HttpServer target : List.of(server, probe)) {
                long accepted = target.accepted();
                int seen = target.peers().size();
                int localPort = request(podNs, target.address());
                if (target.accepted() != accepted + 1) {
                    throw new IllegalStateException("HAProxy check: " + target.address() + " saw " + (target.accepted() - accepted)
                            + " connections for one request from " + pod + "; expected exactly one");
                }
                InetSocketAddress peer = target.peers().get(seen);
                if (!peer.getAddress().equals(pod.address()) || peer.getPort() == localPort) {
                    throw new IllegalStateException("HAProxy check: " + target.address() + " was reached from " + peer
                            + ", the pod's socket was port " + localPort + ": the request did not go through HAProxy");
                }
            }
        }
        HaproxyReference.Counters after = haproxy.counters();
        out.printf("haproxy check: 2 requests from %s reached 2 upstream servers (%s, %s) through haproxy; the rules "
                        + "redirected %d connections and let %d of haproxy's own out%n", pod.name(), text(server.address()),
                text(probeAddress), after.redirected() - before.redirected(), after.bypassed() - before.bypassed());
        if (after.redirected() - before.redirected() != 2 || after.bypassed() - before.bypassed() != 2) {
            throw new IllegalStateException("HAProxy check: expected 2 redirected and 2 let out, counters went from "
                    + before + " to " + after);
        }
    }

    private static String text(InetSocketAddress address) {
        return address.getAddress().getHostAddress() + ":" + address.getPort();
    }

    /** One HTTP/1.1 GET with Connection: close from inside {@code ns}; returns the client's local port. */
    private static int request(NetNs ns, InetSocketAddress target) throws IOException {
        try (SocketChannel channel = PodClient.connect(ns, target, Duration.ofSeconds(5))) {
            int localPort = ((InetSocketAddress) channel.getLocalAddress()).getPort();
            channel.socket().setSoTimeout(5000);
            channel.socket().getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + target.getAddress().getHostAddress()
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            InputStream in = channel.socket().getInputStream();
            String response = new String(in.readNBytes(64 * 1024), StandardCharsets.ISO_8859_1);
            if (!response.startsWith("HTTP/1.1 200")) {
                throw new IOException("GET " + target + " from " + ns + " answered: " + response.lines().findFirst().orElse("nothing"));
            }
            return localPort;
        }
    }

    private BenchReport.LoadSample sample(PodNs pod, String url, BenchReport.Load load, Long proxyPid) throws IOException {
        double cpuBefore = proxyPid != null ? BenchProc.cpuSeconds(proxyPid) : 0;
        WrkResult r = wrk(pod, url, load.connections(), load.newConnectionPerRequest(), options.duration());
        double cpu = proxyPid != null ? BenchProc.cpuSeconds(proxyPid) - cpuBefore : Double.NaN;
        if (r.errors() > 0) {
            throw new IllegalStateException(r.errors() + " errors in a run from " + pod.name() + " at " + load.label());
        }
        return new BenchReport.LoadSample(r, cpu);
    }

    private BenchReport.BulkSample bulkSample(PodNs pod, InetSocketAddress server, boolean reverse, Long proxyPid)
            throws IOException {
        double cpuBefore = proxyPid != null ? BenchProc.cpuSeconds(proxyPid) : 0;
        Iperf3.Result r = Iperf3.run(pod.netnsName(), server, options.bulkDuration(), reverse);
        double cpu = proxyPid != null ? BenchProc.cpuSeconds(proxyPid) - cpuBefore : Double.NaN;
        return new BenchReport.BulkSample(r, cpu);
    }

    private WrkResult wrk(PodNs pod, String url, int c, boolean newConnectionEach, Duration d) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("wrk", "-t1", "-c" + c, "-d" + d.toSeconds() + "s", "--latency"));
        if (newConnectionEach) {
            cmd.addAll(List.of("-H", "Connection: close"));
        }
        cmd.add(url);
        return WrkResult.parse(Topology.exec(pod.netnsName(), d.plusSeconds(30), cmd.toArray(String[]::new)));
    }

    private void checkDeadline(String where) throws IOException {
        if (System.nanoTime() > deadline) {
            throw new IOException("the bench ran past its time limit of " + options.timeLimit().toSeconds() + " s " + where
                    + "; the machine may be overloaded: lower --seconds or --rounds, or raise --time-limit");
        }
    }

    private double elapsedSeconds() {
        return (System.nanoTime() - started) / 1e9;
    }

    /** The transport from the agent's ready line, e.g. {@code io_uring} from {@code ... 2 pod(s) on io_uring: ...}. */
    static String agentTransport(String readyLine) {
        int on = readyLine.indexOf(" on ");
        int colon = on < 0 ? -1 : readyLine.indexOf(':', on);
        return on < 0 || colon < 0 ? "?" : readyLine.substring(on + 4, colon);
    }

    private static void requireTool(String tool, String versionFlag) throws IOException {
        try {
            new ProcessBuilder(tool, versionFlag).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start().waitFor();
        } catch (IOException e) {
            throw new IOException(tool + " is not installed: run ./shunt setup (Debian package " + tool + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops the agent with SIGTERM (on which it removes its rules) if the bench's JVM exits without
     * having stopped it: on Ctrl-C, SIGTERM or an error. A normal run stops it itself and checks its
     * exit code; closing this only removes the hook.
     */
    private static final class AgentStopper implements AutoCloseable {
        private final Thread hook;

        AgentStopper(AgentProcess agent) {
            this.hook = Thread.ofPlatform().name("shunt-bench-stop-agent").unstarted(() -> {
                try {
                    agent.close();
                } catch (IOException e) {
                    System.err.println("shunt bench: stopping the agent at exit: " + e.getMessage());
                }
            });
            Runtime.getRuntime().addShutdownHook(hook);
        }

        @Override
        public void close() {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook runs
            }
        }
    }
}
