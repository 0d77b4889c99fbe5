package io.shunt.testbed;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.shunt.ffi.netns.NetNs;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code ./shunt soak}: one bounded run that holds thousands of connections open through the
 * agent for minutes, with a churn of short ones beside them, and watches whether the agent's
 * memory and file descriptors stay flat. The agent runs as its own process with every pod given
 * by {@code --pod}: the routable pods of a {@link Topology} carry the traffic to an
 * {@link HttpServer} on the upstream, the rest are bare {@link PodNamespaces}, registered and
 * idle, so the agent holds a node's worth of pods. {@link SoakLoad} drives the traffic from one
 * selector thread. Every sample interval the agent's footprint, CPU and metrics and the client's
 * counts and latencies are recorded; at the end every connection is closed, the agent's fds are
 * compared with its idle baseline, everything is removed and the removal checked.
 */
public final class Soak {
    static final String TAG = "soak";
    /** Pod connections between two samples of the steady phase come and go with the churn: allowed drift of the agent's fds. */
    static final int FD_MARGIN_UNDER_LOAD = 32;
    /** Once every connection is closed, the agent may hold this many fds more than before the run. */
    static final int FD_MARGIN_IDLE = 8;
    private static final Duration AGENT_READY = Duration.ofSeconds(180);
    private static final Duration AGENT_STOP = Duration.ofSeconds(60);
    private static final Duration RAMP_LIMIT = Duration.ofSeconds(180);
    private static final Duration CLOSE_LIMIT = Duration.ofSeconds(60);
    private static final Duration SETTLE = Duration.ofSeconds(2);
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final int SERVICE_PORT = 8080;
    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private final PrintStream out = System.out;
    private final Options options;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Path jstat = jdkTool("jstat");
    private final Path jcmd = jdkTool("jcmd");

    private Soak(Options options) {
        this.options = options;
    }

    private static Path jdkTool(String name) {
        Path tool = Path.of(System.getProperty("java.home"), "bin", name);
        return Files.isExecutable(tool) ? tool : null;
    }

    /** The command line, validated. */
    record Options(int minutes, int pods, int routablePods, int connections, int churnPerSecond, Duration period,
                   int sampleSeconds, String transport, String technique, double flatMibPerMinute,
                   List<String> agentJvmOptions, Path json) {
        static final int MAX_CONNECTIONS = 20_000;
        static final int MAX_CHURN = 2_000;
        static final String USAGE = """
                Usage: ./shunt soak [--minutes N] [--pods N] [--routable-pods N] [--connections N] [--churn N]
                                    [--period-ms N] [--sample-seconds N] [--transport auto|io_uring|epoll|nio]
                                    [--technique auto|NAME[,NAME...]] [--flat-mib-per-minute X]
                                    [--agent-jvm-options "OPTIONS"] [--json FILE]
                Holds N connections open through the agent for minutes, with a churn of short connections, and
                checks that the agent's memory and file descriptors stay flat (needs root). Builds a topology of
                routable pods (shunt-soak-<hex>-pod-a..) and an upstream running an HTTP server, plus bare pod
                namespaces (shunt-soak-<hex>-<i>, only lo up) up to the pod count; starts the agent as its own
                process with every pod given by --pod. The routable pods carry the traffic from one selector
                thread: the pool of keep-alive connections, each sending a small POST every period and checking
                every byte of the answer, and the churn of new connections (one request, Connection: close).
                Samples every --sample-seconds: the agent's VmRSS, RssAnon, heap (jstat -gc), open fds,
                threads, CPU and metrics; the client's requests, failures and latency. At the end closes every
                connection, compares the agent's fds and its live heap (after a full GC, jcmd GC.run) with its
                idle baseline, stops the agent (exit 0 required), deletes everything and checks that nothing is
                left. Exits 1 when a check fails: a failed request, memory not flat, an fd leak, the clean-up.

                  --minutes N              length of the steady phase, after the pool is open, 1..120 (default 10)
                  --pods N                 pods registered with the agent, all told, 1..1000 (default 200)
                  --routable-pods N        of them, pods wired to the upstream that carry the traffic, 1..26
                                           (default 26, the most a topology has)
                  --connections N          keep-alive connections held open, spread over the routable pods,
                                           1..20000 (default 5000)
                  --churn N                new short connections per second, 0..2000 (default 200)
                  --period-ms N            time between two requests of one pool connection, 100..60000
                                           (default 1000)
                  --sample-seconds N       sample interval, 5..60 (default 10)
                  --transport NAME         passed to the agent (default auto)
                  --technique LIST         passed to the agent (default auto)
                  --flat-mib-per-minute X  the largest RSS slope over the second half that counts as flat
                                           (default 1.0)
                  --agent-jvm-options S    JVM options for the agent, space-separated, e.g. "-Xmx128m"
                                           (default none: the JVM's ergonomics, as ./shunt agent runs)
                  --json FILE              also write the figures here (default target/soak.json)""";

        static Options parse(String... args) {
            Map<String, String> given = new LinkedHashMap<>();
            List<String> known = List.of("--minutes", "--pods", "--routable-pods", "--connections", "--churn",
                    "--period-ms", "--sample-seconds", "--transport", "--technique", "--flat-mib-per-minute",
                    "--agent-jvm-options", "--json");
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                if (arg.equals("--help") || arg.equals("-h")) {
                    return null;
                }
                if (!known.contains(arg)) {
                    throw new IllegalArgumentException("unknown argument '" + arg + "'");
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(arg + " needs a value");
                }
                given.put(arg, args[++i]);
            }
            int pods = OptionValues.integer(given, "--pods", 200, 1, PodNamespaces.MAX);
            int routable = OptionValues.integer(given, "--routable-pods", Math.min(Topology.MAX_PODS, pods), 1, Topology.MAX_PODS);
            if (routable > pods) {
                throw new IllegalArgumentException("--routable-pods " + routable + " is more than --pods " + pods);
            }
            double flat;
            try {
                flat = Double.parseDouble(given.getOrDefault("--flat-mib-per-minute", "1.0"));
            } catch (NumberFormatException e) {
                flat = Double.NaN;
            }
            if (!(flat > 0 && flat <= 1000)) {
                throw new IllegalArgumentException("--flat-mib-per-minute " + given.get("--flat-mib-per-minute")
                        + ": give a number above 0, e.g. 1.0");
            }
            return new Options(OptionValues.integer(given, "--minutes", 10, 1, 120), pods, routable,
                    OptionValues.integer(given, "--connections", 5000, 1, MAX_CONNECTIONS),
                    OptionValues.integer(given, "--churn", 200, 0, MAX_CHURN),
                    Duration.ofMillis(OptionValues.integer(given, "--period-ms", 1000, 100, 60_000)),
                    OptionValues.integer(given, "--sample-seconds", 10, 5, 60),
                    OptionValues.word(given, "--transport", "auto"), OptionValues.word(given, "--technique", "auto"), flat,
                    jvmOptions(given.getOrDefault("--agent-jvm-options", "")),
                    Path.of(given.getOrDefault("--json", "target/soak.json")));
        }

        private static List<String> jvmOptions(String value) {
            List<String> options = value.isBlank() ? List.of() : List.of(value.strip().split("\\s+"));
            for (String option : options) {
                if (!option.matches("-[A-Za-z][-A-Za-z0-9:+=._/,]*")) {
                    throw new IllegalArgumentException("--agent-jvm-options: '" + option + "' is not a JVM option;"
                            + " give options such as -Xmx128m -XX:+UseSerialGC, separated by spaces");
                }
            }
            return options;
        }

        /** Open files the agent needs: two per connection (the pod's side and the upstream's), the pods' listeners, slack. */
        long agentFdsNeeded() {
            return 2L * (connections + Math.max(50, churnPerSecond)) + 8L * pods + 1024;
        }

        /** Open files this JVM needs: the client's and the server's socket of every connection, slack. */
        long ownFdsNeeded() {
            return 2L * (connections + Math.max(50, churnPerSecond)) + 1024;
        }

    }

    /**
     * One sample. Agent figures come from /proc and its metrics (summed over pods; -1 when the
     * scrape failed); client figures are those of the interval that ends here.
     */
    record Sample(String phase, double minutes, long vmRssKib, long rssAnonKib, long heapUsedKib,
                  long heapCommittedKib, long oldUsedKib, int fds, int threads,
                  double agentCpuPercent, long agentActive, long agentAccepted, long agentShed,
                  long agentUpstreamFailures, int clientPool, int clientChurnInFlight, double requestsPerSecond,
                  long failures, double churnPerSecond, LatencySummary request, LatencySummary churn, double loadAverage) {
    }

    public static void main(String[] args) throws Exception {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("shunt soak: " + e.getMessage() + "; see ./shunt soak --help");
            System.exit(2);
            return;
        }
        if (options == null) {
            System.out.println(Options.USAGE);
            return;
        }
        System.exit(new Soak(options).run() ? 0 : 1);
    }

    /** The run's results, filled in as it goes, so that a failure half-way still reports what was measured. */
    private static final class Run {
        final String started = Instant.now().toString();
        final List<Sample> samples = new ArrayList<>();
        String agentReady = "?";
        Map<String, Integer> techniques = Map.of();
        SoakProc.FileLimit agentFileLimit;
        SoakProc.FileLimit ownFileLimit;
        double rampSeconds = Double.NaN;
        long poolConnects;
        long requestsOk;
        long requestFailures;
        long churnOk;
        long churnFailures;
        long churnSkipped;
        List<String> failureExamples = List.of();
        Sample idle;
        Sample closed;
        long liveHeapIdleKib = -1;
        Map<String, Integer> fdKindsIdle = Map.of();
        Map<String, Integer> fdKindsClosed = Map.of();
        long liveHeapClosedKib = -1;
        int agentExit = -1;
        int nftTablesLeft = -1;
        List<String> namespacesLeft = List.of();
        String error;
        String cleanUpError;
    }

    private boolean run() throws IOException {
        Run r = new Run();
        List<String> removed = Topology.removeLeftovers(TAG);
        if (!removed.isEmpty()) {
            out.println("removed " + removed.size() + " namespaces left by an earlier run");
        }
        int idlePods = options.pods() - options.routablePods();
        AtomicReference<AgentProcess> runningAgent = new AtomicReference<>();
        AtomicReference<SoakLoad> runningLoad = new AtomicReference<>();
        // Ctrl-C: the topology and the pod namespaces have their own hooks; this one stops the load and the agent.
        Thread exitHook = Thread.ofPlatform().name("shunt-soak-cleanup").unstarted(() -> {
            SoakLoad load = runningLoad.get();
            if (load != null) {
                load.close();
            }
            AgentProcess agent = runningAgent.get();
            try {
                if (agent != null) {
                    agent.close();
                }
            } catch (IOException e) {
                System.err.println("shunt soak: stopping the agent (pid " + agent.pid() + ") at exit failed: "
                        + e.getMessage() + "; stop it with kill " + agent.pid());
            }
        });
        Runtime.getRuntime().addShutdownHook(exitHook);
        List<NetNs> handles = new ArrayList<>();
        Topology topology = null;
        PodNamespaces idle = null;
        HttpServer server = null;
        AgentProcess agent = null;
        SoakLoad load = null;
        try {
            r.ownFileLimit = SoakProc.raiseOpenFiles(ProcessHandle.current().pid(), options.ownFdsNeeded());
            topology = Topology.create(TAG, options.routablePods());
            idle = idlePods > 0 ? PodNamespaces.create(TAG, idlePods) : null;
            NetNs up = topology.upstream().open();
            handles.add(up);
            InetSocketAddress service = new InetSocketAddress(topology.serviceAddress(0), SERVICE_PORT);
            server = HttpServer.start(up, service, options.connections() + 2 * Math.max(50, options.churnPerSecond()) + 100);
            List<NetNs> routable = new ArrayList<>();
            for (PodNs pod : topology.pods()) {
                NetNs ns = pod.open();
                handles.add(ns);
                routable.add(ns);
            }
            out.printf(Locale.ROOT, "topology %s: %d routable pods (pod-a..) and the upstream; %s%n", topology.prefix(),
                    options.routablePods(), idle == null ? "no idle pods"
                            : idlePods + " idle pods " + idle.prefix() + "0.." + (idlePods - 1) + " (only lo up, no traffic)");

            int metricsPort = freeLoopbackPort();
            agent = AgentProcess.start(options.agentJvmOptions(), agentArgs(topology, idle, metricsPort), null,
                    AGENT_READY);
            runningAgent.set(agent);
            r.agentReady = agent.output().stream().filter(l -> l.startsWith("shunt-agent ready")).findFirst().orElse("?");
            r.techniques = techniques(r.agentReady);
            r.agentFileLimit = SoakProc.raiseOpenFiles(agent.pid(), options.agentFdsNeeded());
            out.printf(Locale.ROOT, "agent: pid %d, %s; techniques %s; open-files limit %d (needs %d); this JVM's %d"
                            + " (needs %d)%n", agent.pid(), readySummary(r.agentReady),
                    r.techniques, r.agentFileLimit.soft(), options.agentFdsNeeded(), r.ownFileLimit.soft(), options.ownFdsNeeded());
            URI metrics = URI.create("http://127.0.0.1:" + metricsPort + "/metrics");

            load = new SoakLoad(routable, service, options.connections(), options.churnPerSecond(), options.period(), TIMEOUT);
            runningLoad.set(load);
            measure(r, agent, load, metrics);
        } catch (Exception e) {
            r.error = e.toString();
            e.printStackTrace();
        } finally {
            if (load != null) {
                totals(r, load);
            }
            cleanUp(r, load, server, agent, handles, topology, idle);
            try {
                Runtime.getRuntime().removeShutdownHook(exitHook);
            } catch (IllegalStateException e) {
                // shutdown under way: the hook does the rest
            }
        }
        return report(r);
    }

    private List<String> agentArgs(Topology topology, PodNamespaces idle, int metricsPort) {
        List<String> args = new ArrayList<>();
        for (PodNs pod : topology.pods()) {
            args.add("--pod");
            args.add(pod.name() + "=" + pod.netnsPath());
        }
        for (int i = 0; idle != null && i < idle.size(); i++) {
            args.add("--pod");
            args.add("idle-" + i + "=" + idle.path(i));
        }
        args.addAll(List.of("--metrics-address", "127.0.0.1:" + metricsPort, "--transport", options.transport(),
                "--technique", options.technique()));
        return args;
    }

    private void measure(Run r, AgentProcess agent, SoakLoad load, URI metrics) throws IOException, InterruptedException {
        scrape(metrics); // the endpoint's first request is not the baseline's
        // Before the baseline: jcmd's attach leaves a thread and a socket in the agent for good.
        r.liveHeapIdleKib = SoakProc.liveHeapKib(jcmd, jstat, agent.pid());
        Thread.sleep(SETTLE);
        Interval interval = new Interval(agent.pid(), load);
        r.idle = sample("idle", 0, agent, load, metrics, interval);
        r.fdKindsIdle = SoakProc.fdKinds(agent.pid());
        printHeader();
        print(r.idle);

        long rampStart = System.nanoTime();
        load.start();
        long rampDeadline = rampStart + RAMP_LIMIT.toNanos();
        while (load.poolOpen() < options.connections()) {
            check(load, agent);
            if (System.nanoTime() > rampDeadline) {
                throw new IOException("only " + load.poolOpen() + " of " + options.connections() + " connections were"
                        + " open after " + RAMP_LIMIT.toSeconds() + " s; failures so far: " + load.failureExamples());
            }
            Thread.sleep(50);
        }
        r.rampSeconds = (System.nanoTime() - rampStart) / 1e9;
        out.printf(Locale.ROOT, "%d connections open after %.1f s; steady phase of %d min with %d new connections/s%n",
                options.connections(), r.rampSeconds, options.minutes(), options.churnPerSecond());

        load.startChurn();
        long start = System.nanoTime();
        interval.restart();
        long every = Duration.ofSeconds(options.sampleSeconds()).toNanos();
        long end = start + Duration.ofMinutes(options.minutes()).toNanos();
        for (long next = start + every; next - end <= 0; next += every) {
            while (System.nanoTime() - next < 0) {
                check(load, agent);
                Thread.sleep(Math.min(500, Math.max(1, (next - System.nanoTime()) / 1_000_000)));
            }
            Sample s = sample("load", (System.nanoTime() - start) / 60e9, agent, load, metrics, interval);
            r.samples.add(s);
            print(s);
        }

        load.closeAllConnections();
        long closeDeadline = System.nanoTime() + CLOSE_LIMIT.toNanos();
        long active;
        do {
            Thread.sleep(500);
            active = SoakProc.sum(scrape(metrics), "shunt_connections_active");
        } while ((active != 0 || load.poolOpen() > 0 || load.churnInFlight() > 0) && System.nanoTime() < closeDeadline);
        r.liveHeapClosedKib = SoakProc.liveHeapKib(jcmd, jstat, agent.pid());
        Thread.sleep(SETTLE);
        r.closed = sample("closed", (System.nanoTime() - start) / 60e9, agent, load, metrics, interval);
        r.fdKindsClosed = SoakProc.fdKinds(agent.pid());
        print(r.closed);
        if (active != 0) {
            r.error = "the agent still reported " + active + " active connection(s) " + CLOSE_LIMIT.toSeconds()
                    + " s after the client closed them all";
        }
    }

    /** The client's totals; also after a run that failed half-way. */
    private static void totals(Run r, SoakLoad load) {
        SoakLoad.Snapshot totals = load.snapshot();
        r.poolConnects = totals.poolConnects();
        r.requestsOk = totals.requestsOk();
        r.requestFailures = totals.requestFailures();
        r.churnOk = totals.churnOk();
        r.churnFailures = totals.churnFailures();
        r.churnSkipped = totals.churnSkipped();
        r.failureExamples = load.failureExamples();
    }

    /** Fails the run early when the load thread or the agent died. */
    private static void check(SoakLoad load, AgentProcess agent) throws IOException {
        if (load.crashed() != null) {
            throw new IOException("the load thread stopped: " + load.crashed(), load.crashed());
        }
        if (!ProcessHandle.of(agent.pid()).map(ProcessHandle::isAlive).orElse(false)) {
            throw new IOException("the agent (pid " + agent.pid() + ") exited during the run; its last lines:\n"
                    + String.join("\n", agent.output().subList(Math.max(0, agent.output().size() - 30), agent.output().size())));
        }
    }

    /** What changed since the previous sample: client counters and the agent's CPU time. */
    private static final class Interval {
        final long pid;
        final SoakLoad load;
        long at;
        double cpuSeconds;
        SoakLoad.Snapshot previous;

        Interval(long pid, SoakLoad load) throws IOException {
            this.pid = pid;
            this.load = load;
            restart();
        }

        void restart() throws IOException {
            at = System.nanoTime();
            cpuSeconds = SoakProc.cpuSeconds(pid);
            previous = load.snapshot();
        }
    }

    private Sample sample(String phase, double minutes, AgentProcess agent, SoakLoad load, URI metrics, Interval interval)
            throws IOException {
        ProcessFootprint f = ProcessFootprint.of(agent.pid(), null);
        SoakProc.Heap heap = SoakProc.heap(jstat, agent.pid());
        String exposition = scrape(metrics);
        long now = System.nanoTime();
        double cpu = SoakProc.cpuSeconds(agent.pid());
        SoakLoad.Snapshot s = load.snapshot();
        SoakLoad.Snapshot p = interval.previous;
        double seconds = (now - interval.at) / 1e9;
        double cpuPercent = 100 * (cpu - interval.cpuSeconds) / seconds;
        interval.at = now;
        interval.cpuSeconds = cpu;
        interval.previous = s;
        return new Sample(phase, Math.round(minutes * 1000) / 1000.0, f.vmRssKib(), f.rssAnonKib(), heap.usedKib(),
                heap.committedKib(), heap.oldUsedKib(), f.openFds(), f.threads(), Math.round(cpuPercent * 10) / 10.0,
                SoakProc.sum(exposition, "shunt_connections_active"),
                SoakProc.sum(exposition, "shunt_connections_accepted_total"),
                SoakProc.sum(exposition, "shunt_connections_shed_total"),
                SoakProc.sum(exposition, "shunt_upstream_connect_failures_total"),
                s.poolOpen(), s.churnInFlight(), Math.round((s.requestsOk() - p.requestsOk()) / seconds * 10) / 10.0,
                s.failures() - p.failures(), Math.round((s.churnOk() - p.churnOk()) / seconds * 10) / 10.0,
                s.requestNanos().length == 0 ? null : LatencySummary.ofNanos(s.requestNanos()),
                s.churnNanos().length == 0 ? null : LatencySummary.ofNanos(s.churnNanos()), SoakProc.loadAverage());
    }

    /** The agent's /metrics; empty (so every sum is -1) when it does not answer. */
    private String scrape(URI metrics) {
        try {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(metrics).timeout(TIMEOUT).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 ? response.body() : "";
        } catch (IOException e) {
            System.err.println("shunt soak: scraping " + metrics + " failed: " + e.getMessage());
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    private void printHeader() {
        out.printf("%-6s %6s %8s %8s %7s %7s %7s %6s %4s %6s %6s %5s %6s %8s %5s %7s %8s %8s %8s %8s %5s%n", "phase",
                "min", "RSS MiB", "anon MiB", "heapMiB", "commMiB", "old MiB", "fds", "thr", "CPU%", "active", "shed", "pool", "req/s", "fail",
                "churn/s", "p50 ms", "p99 ms", "ch p50", "ch p99", "load");
    }

    private void print(Sample s) {
        out.printf(Locale.ROOT, "%-6s %6.2f %8.1f %8.1f %7s %7s %7s %6d %4d %6.1f %6d %5d %6d %8.0f %5d %7.0f %8s %8s %8s %8s %5.1f%n",
                s.phase(), s.minutes(), s.vmRssKib() / 1024.0, s.rssAnonKib() / 1024.0,
                mib(s.heapUsedKib()), mib(s.heapCommittedKib()), mib(s.oldUsedKib()), s.fds(),
                s.threads(), s.agentCpuPercent(), s.agentActive(), s.agentShed(), s.clientPool(), s.requestsPerSecond(),
                s.failures(), s.churnPerSecond(), ms(s.request(), false), ms(s.request(), true), ms(s.churn(), false),
                ms(s.churn(), true), s.loadAverage());
    }

    private static String mib(long kib) {
        return kib < 0 ? "-" : String.format(Locale.ROOT, "%.1f", kib / 1024.0);
    }

    private static String ms(LatencySummary l, boolean p99) {
        return l == null ? "-" : String.format(Locale.ROOT, "%.3f", p99 ? l.p99Ms() : l.medianMs());
    }

    private void cleanUp(Run r, SoakLoad load, HttpServer server, AgentProcess agent, List<NetNs> handles,
                         Topology topology, PodNamespaces idle) {
        List<String> problems = new ArrayList<>();
        if (load != null) {
            load.close();
        }
        if (server != null) {
            server.close();
        }
        if (agent != null) {
            try {
                r.agentExit = agent.stop(AGENT_STOP);
                if (r.agentExit != 0) {
                    problems.add("the agent exited with status " + r.agentExit + " after SIGTERM; its last lines:\n"
                            + String.join("\n", agent.output().subList(Math.max(0, agent.output().size() - 30),
                            agent.output().size())));
                }
            } catch (IOException e) {
                problems.add(e.getMessage());
            }
            try {
                r.nftTablesLeft = nftTablesLeft(topology, idle);
            } catch (IOException e) {
                problems.add("checking for nft tables left: " + e.getMessage());
            }
        }
        handles.forEach(NetNs::close);
        for (AutoCloseable namespaces : new AutoCloseable[]{idle, topology}) {
            try {
                if (namespaces != null) {
                    namespaces.close();
                }
            } catch (Exception e) {
                problems.add(e.getMessage());
            }
        }
        try {
            r.namespacesLeft = NetnsInventory.withPrefix("shunt-" + TAG + "-");
        } catch (IOException e) {
            problems.add("listing namespaces: " + e.getMessage());
        }
        if (agent != null && ProcessHandle.of(agent.pid()).map(ProcessHandle::isAlive).orElse(false)) {
            problems.add("the agent (pid " + agent.pid() + ") is still running");
        }
        if (!problems.isEmpty()) {
            r.cleanUpError = String.join("; ", problems);
        }
    }

    /** Tables the agent left in the pods' namespaces after it stopped: should be none. */
    private static int nftTablesLeft(Topology topology, PodNamespaces idle) throws IOException {
        List<String> names = new ArrayList<>();
        if (topology != null) {
            topology.pods().forEach(p -> names.add(p.netnsName()));
        }
        if (idle != null) {
            names.addAll(idle.names());
        }
        int left = 0;
        for (String ns : names) {
            String tables = Topology.exec(ns, "nft", "list", "tables").strip();
            if (!tables.isEmpty()) {
                System.err.println("nft tables left in " + ns + ": " + tables.replace('\n', ' '));
                left += (int) tables.lines().count();
            }
        }
        return left;
    }

    private boolean report(Run r) throws IOException {
        List<Sample> steady = r.samples;
        double[] minutes = steady.stream().mapToDouble(Sample::minutes).toArray();
        List<Integer> half = SoakVerdicts.secondHalf(minutes, options.minutes());
        double[] x = half.stream().mapToDouble(i -> minutes[i]).toArray();
        double rssSlope = SoakVerdicts.slope(x, half.stream().mapToDouble(i -> steady.get(i).vmRssKib() / 1024.0).toArray());
        double anonSlope = SoakVerdicts.slope(x, half.stream().mapToDouble(i -> steady.get(i).rssAnonKib() / 1024.0).toArray());
        double fdSlope = SoakVerdicts.slope(x, half.stream().mapToDouble(i -> steady.get(i).fds()).toArray());
        boolean heapKnown = half.stream().allMatch(i -> steady.get(i).heapCommittedKib() >= 0);
        double committedSlope = !heapKnown ? Double.NaN
                : SoakVerdicts.slope(x, half.stream().mapToDouble(i -> steady.get(i).heapCommittedKib() / 1024.0).toArray());
        double oldSlope = !heapKnown ? Double.NaN
                : SoakVerdicts.slope(x, half.stream().mapToDouble(i -> steady.get(i).oldUsedKib() / 1024.0).toArray());
        SoakVerdicts.Verdict memory = SoakVerdicts.memory(rssSlope, half.size(), options.flatMibPerMinute());
        SoakVerdicts.Verdict fds = r.idle == null || r.closed == null || half.isEmpty()
                ? new SoakVerdicts.Verdict(false, "fd leak: unknown (the run did not get through its samples)")
                : SoakVerdicts.fds(r.idle.fds(), steady.get(half.getFirst()).fds(), steady.getLast().fds(), r.closed.fds(),
                FD_MARGIN_UNDER_LOAD, FD_MARGIN_IDLE);
        long failures = r.requestFailures + r.churnFailures;
        boolean cleanOk = r.cleanUpError == null && r.agentExit == 0 && r.nftTablesLeft == 0 && r.namespacesLeft.isEmpty();

        out.println();
        out.printf(Locale.ROOT, "Shunt soak: %d pods (%d routable, %d idle), %d connections, %d new connections/s,"
                        + " a request every %d ms per connection, %d min; %d cores, %s%n", options.pods(),
                options.routablePods(), options.pods() - options.routablePods(), options.connections(),
                options.churnPerSecond(), options.period().toMillis(), options.minutes(),
                Runtime.getRuntime().availableProcessors(), Instant.now());
        out.println("agent: " + readySummary(r.agentReady) + "; techniques " + r.techniques + "; JVM options "
                + (options.agentJvmOptions().isEmpty() ? "none (ergonomics)" : String.join(" ", options.agentJvmOptions())));
        out.println();
        printHeader();
        if (r.idle != null) {
            print(r.idle);
        }
        steady.forEach(this::print);
        if (r.closed != null) {
            print(r.closed);
        }
        out.println("(agent: RSS, RssAnon, heap in use incl. garbage, committed and old generation in use per jstat -gc,"
                + " open fds, threads, CPU% of one core,"
                + " active connections and shed per its metrics; client: pool connections open, requests/s, failures,"
                + " churn connections/s, request p50/p99 and churn connect-to-close p50/p99 in the interval;"
                + " the machine's 1-minute load average)");
        out.println();
        out.printf(Locale.ROOT, "slopes over the second half (%d samples): VmRSS %+.2f MiB/min, RssAnon %+.2f MiB/min,"
                + " open fds %+.1f /min%n", half.size(), rssSlope, anonSlope, fdSlope);
        out.printf(Locale.ROOT, "  of the agent's JVM heap: committed %+.2f MiB/min, old generation in use %+.2f MiB/min%n",
                committedSlope, oldSlope);
        out.printf(Locale.ROOT, "pool ramp-up: %.1f s; totals: %,d requests ok, %,d churn connections ok, %,d pool"
                        + " connects (%d replaced), %,d churn starts skipped (too many in flight)%n", r.rampSeconds,
                r.requestsOk, r.churnOk, r.poolConnects, Math.max(0, r.poolConnects - options.connections()), r.churnSkipped);
        out.printf("failures: %d (%d on pool requests, %d on churn connections)%n", failures, r.requestFailures, r.churnFailures);
        r.failureExamples.forEach(f -> out.println("  " + f));
        out.printf(Locale.ROOT, "live heap after a full GC (jcmd GC.run): before the run %s MiB, after closing every"
                + " connection %s MiB%n", mib(r.liveHeapIdleKib), mib(r.liveHeapClosedKib));
        out.println(memory.line());
        out.println(fds.line());
        Map<String, Integer> fdChange = SoakProc.difference(r.fdKindsIdle, r.fdKindsClosed);
        out.println("  the agent's fds after closing every connection vs idle, by kind: "
                + (fdChange.isEmpty() ? "no change" : fdChange) + " (net = a network namespace handle)");
        out.printf("clean-up: agent exit %d after SIGTERM; %d nft table(s) left in pod namespaces; shunt-%s-* namespaces"
                        + " left: %s%s%n", r.agentExit, r.nftTablesLeft, TAG, r.namespacesLeft.isEmpty() ? "none" : r.namespacesLeft,
                r.cleanUpError == null ? "" : "; problems: " + r.cleanUpError);
        if (r.error != null) {
            out.println("the run failed: " + r.error);
        }

        Map<String, Object> json = new LinkedHashMap<>();
        json.put("started", r.started);
        json.put("cores", Runtime.getRuntime().availableProcessors());
        json.put("kernel", System.getProperty("os.version"));
        json.put("java", Runtime.version().toString());
        json.put("options", Map.of("minutes", options.minutes(), "pods", options.pods(),
                "routable_pods", options.routablePods(), "connections", options.connections(),
                "churn_per_second", options.churnPerSecond(), "period_ms", options.period().toMillis(),
                "sample_seconds", options.sampleSeconds(), "transport", options.transport(),
                "technique", options.technique(), "flat_mib_per_minute", options.flatMibPerMinute()));
        json.put("agent_ready", readySummary(r.agentReady));
        json.put("techniques", r.techniques);
        json.put("open_files_limit", Map.of("agent", r.agentFileLimit == null ? -1 : r.agentFileLimit.soft(),
                "soak", r.ownFileLimit == null ? -1 : r.ownFileLimit.soft()));
        json.put("agent_jvm_options", options.agentJvmOptions());
        json.put("ramp_seconds", r.rampSeconds);
        json.put("live_heap_kib", Map.of("idle", r.liveHeapIdleKib, "closed", r.liveHeapClosedKib));
        json.put("idle", r.idle);
        json.put("samples", steady);
        json.put("closed", r.closed);
        json.put("fd_kinds", Map.of("idle", r.fdKindsIdle, "closed", r.fdKindsClosed));
        Map<String, Object> slopes = new LinkedHashMap<>();
        slopes.put("samples", half.size());
        slopes.put("vm_rss_mib_per_minute", finite(rssSlope));
        slopes.put("rss_anon_mib_per_minute", finite(anonSlope));
        slopes.put("fds_per_minute", finite(fdSlope));
        slopes.put("heap_committed_mib_per_minute", finite(committedSlope));
        slopes.put("old_used_mib_per_minute", finite(oldSlope));
        json.put("second_half_slopes", slopes);
        Map<String, Object> totals = new LinkedHashMap<>();
        totals.put("requests_ok", r.requestsOk);
        totals.put("churn_ok", r.churnOk);
        totals.put("pool_connects", r.poolConnects);
        totals.put("churn_skipped", r.churnSkipped);
        totals.put("request_failures", r.requestFailures);
        totals.put("churn_failures", r.churnFailures);
        totals.put("failure_examples", r.failureExamples);
        json.put("totals", totals);
        json.put("verdicts", Map.of("memory", memory, "fds", fds));
        Map<String, Object> clean = new LinkedHashMap<>();
        clean.put("agent_exit", r.agentExit);
        clean.put("nft_tables_left", r.nftTablesLeft);
        clean.put("namespaces_left", r.namespacesLeft);
        clean.put("problems", r.cleanUpError);
        json.put("clean_up", clean);
        json.put("error", r.error);
        Path file = options.json().toAbsolutePath();
        Files.createDirectories(file.getParent());
        JSON.writeValue(file.toFile(), json);
        out.println("figures also written to " + options.json());
        return r.error == null && failures == 0 && memory.ok() && fds.ok() && cleanOk;
    }

    private static Double finite(double value) {
        return Double.isFinite(value) ? Math.round(value * 1000) / 1000.0 : null;
    }

    /** How many pods the agent's ready line gives each technique: {@code ... on io_uring: idle-0=tproxy, pod-a=tproxy}. */
    static Map<String, Integer> techniques(String readyLine) {
        Map<String, Integer> counts = new TreeMap<>();
        int on = readyLine.indexOf(" on ");
        int colon = on < 0 ? -1 : readyLine.indexOf(": ", on);
        if (colon < 0) {
            return counts;
        }
        for (String entry : readyLine.substring(colon + 2).split(",")) {
            int eq = entry.lastIndexOf('=');
            if (eq >= 0) {
                counts.merge(entry.substring(eq + 1).strip(), 1, Integer::sum);
            }
        }
        return counts;
    }

    /** The ready line without its list of pods: {@code intercepting 200 pod(s) on io_uring}. */
    static String readySummary(String readyLine) {
        String s = readyLine.replaceFirst("^shunt-agent ready:\\s*", "");
        int on = s.indexOf(" on ");
        int colon = on < 0 ? -1 : s.indexOf(':', on);
        return colon < 0 ? s : s.substring(0, colon);
    }

    /** A port on 127.0.0.1 that nothing listens on now, for the agent's metrics endpoint. */
    private static int freeLoopbackPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
