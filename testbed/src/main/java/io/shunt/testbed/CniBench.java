package io.shunt.testbed;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shunt.agent.registry.PodStore;
import io.shunt.api.cni.CniWire;
import io.shunt.cni.CniMain;
import io.shunt.cni.InstallLauncher;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * {@code ./shunt bench-cni}: what pod start-up and node memory cost with Shunt as a chained CNI
 * plugin, measured in one run. The agent runs as its own process serving CNI on a socket; the real
 * {@code shunt-cni} launcher is installed with its trained AppCDS archive, as an install does; then
 * N bare pod namespaces are ADDed one after another, each by exec'ing the launcher as a runtime
 * does, so every ADD's figure includes the plugin's JVM start. The agent's memory and open fds are
 * sampled at chosen pod counts; then every pod is DELeted, the agent is checked to have released
 * them all, and everything is removed and checked gone.
 */
public final class CniBench {
    static final String TAG = "cnibench";
    static final int MAX_PODS = 500;
    static final List<Integer> DEFAULT_LEVELS = List.of(1, 50, 200);
    /** ADDs at the start, reported on their own: where the agent's warm-up (JIT, growing pools) would show. */
    static final int EARLY_ADDS = 50;
    private static final int VERSION_CALLS = 20;
    private static final String NETWORK = "benchnet";
    private static final Duration SETTLE = Duration.ofSeconds(1);
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration AGENT_READY = Duration.ofSeconds(60);
    private static final Duration AGENT_STOP = Duration.ofSeconds(60);
    private static final Pattern INTERCEPTED = Pattern.compile(" technique=(\\S+) intercepted:");
    /** The agent's one line per CNI call, e.g. {@code CNI ADD container=96320a73501b pod=bench/pod-9 ok technique=tproxy in 33 ms}. */
    private static final Pattern CNI_CALL = Pattern.compile(" CNI (\\S+) container=\\S+ ok\\b.* in (\\d+) ms$");
    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private final PrintStream out = System.out;
    private final Options options;
    private final long deadline;

    private CniBench(Options options) {
        this.options = options;
        this.deadline = System.nanoTime() + options.timeLimit().toNanos();
    }

    /**
     * The command line, validated.
     *
     * @param levels pod counts at which the agent's memory is sampled, ascending; 0 is before the first ADD
     */
    record Options(int pods, List<Integer> levels, String transport, String technique, Duration timeLimit, Path json) {
        static final String USAGE = """
                Usage: ./shunt bench-cni [--pods N] [--memory-at 1,50,200] [--transport auto|io_uring|epoll|nio]
                                         [--technique auto|NAME[,NAME...]] [--time-limit SECONDS] [--json FILE]
                Measures pod start-up through Shunt's chained CNI plugin and the agent's memory per pod, in one
                run (needs root). Starts the agent as its own process with --cni-socket and --state-file,
                installs the real shunt-cni launcher with its trained AppCDS archive into a temporary plugin
                directory, creates N bare pod namespaces (shunt-cnibench-<hex>-<i>, only lo up), and ADDs them
                one after another by exec'ing the launcher as a container runtime does: stripped environment,
                config with a synthetic prevResult on stdin. Each ADD is timed from exec to exit, so the
                plugin's JVM start is included. Then DELs every pod, checks the agent released them all (state
                file empty, no nft table left in any pod namespace), stops the agent and deletes everything.

                  --pods N          pods to ADD, 1..500 (default 200)
                  --memory-at LIST  pod counts at which to sample the agent's VmRSS, RssAnon, heap in use, threads
                                    and open fds, after a 1 s settle; each 0..N, 0 = before the first ADD
                                    (default: those of 1,50,200 below N, and N)
                  --transport NAME  passed to the agent (default auto)
                  --technique LIST  passed to the agent (default auto)
                  --time-limit S    give up (and clean up) after this many seconds, 60..3600 (default 900)
                  --json FILE       also write the figures here (default target/bench-cni.json)

                Prints median, p90, p99 and max latency of all ADDs, of the first 50, of all DELs, and of
                shunt-cni VERSION (plugin start alone, no agent call); and the agent's footprint at each level
                with the increase per pod between the two highest levels.""";

        Options {
            levels = List.copyOf(levels);
        }

        /**
         * Parses {@code args}; null for {@code --help}.
         *
         * @throws IllegalArgumentException naming the option and the value that is wrong
         */
        static Options parse(String... args) {
            Map<String, String> given = new LinkedHashMap<>();
            for (int i = 0; i < args.length; i++) {
                String arg = args[i];
                if (arg.equals("--help") || arg.equals("-h")) {
                    return null;
                }
                if (!List.of("--pods", "--memory-at", "--transport", "--technique", "--time-limit", "--json").contains(arg)) {
                    throw new IllegalArgumentException("unknown argument '" + arg + "'");
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(arg + " needs a value");
                }
                given.put(arg, args[++i]);
            }
            int pods = OptionValues.integer(given, "--pods", 200, 1, MAX_PODS);
            List<Integer> levels = given.containsKey("--memory-at") ? levels(given.get("--memory-at"), pods)
                    : defaultLevels(pods);
            int seconds = OptionValues.integer(given, "--time-limit", 900, 60, 3600);
            String transport = OptionValues.word(given, "--transport", "auto");
            String technique = OptionValues.word(given, "--technique", "auto");
            return new Options(pods, levels, transport, technique, Duration.ofSeconds(seconds),
                    Path.of(given.getOrDefault("--json", "target/bench-cni.json")));
        }

        static List<Integer> defaultLevels(int pods) {
            TreeSet<Integer> levels = new TreeSet<>();
            DEFAULT_LEVELS.stream().filter(l -> l < pods).forEach(levels::add);
            levels.add(pods);
            return List.copyOf(levels);
        }

        private static List<Integer> levels(String value, int pods) {
            TreeSet<Integer> levels = new TreeSet<>();
            for (String part : value.split(",", -1)) {
                int level;
                try {
                    level = Integer.parseInt(part.strip());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--memory-at " + value + ": '" + part + "' is not a pod count;"
                            + " give comma-separated numbers, e.g. 1,50,200");
                }
                if (level < 0 || level > pods) {
                    throw new IllegalArgumentException("--memory-at " + value + ": " + level + " is outside 0.." + pods
                            + " (the --pods count); lower it or raise --pods");
                }
                levels.add(level);
            }
            return List.copyOf(levels);
        }

    }

    public static void main(String[] args) throws Exception {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("shunt bench-cni: " + e.getMessage() + "; see ./shunt bench-cni --help");
            System.exit(2);
            return;
        }
        if (options == null) {
            System.out.println(Options.USAGE);
            return;
        }
        new CniBench(options).run();
    }

    private void run() throws Exception {
        String started = Instant.now().toString();
        List<String> removed = Topology.removeLeftovers(TAG);
        if (!removed.isEmpty()) {
            out.println("removed " + removed.size() + " namespaces left by an earlier run");
        }
        Path work = Files.createTempDirectory("shunt-cnibench-");
        AtomicReference<AgentProcess> running = new AtomicReference<>();
        // A bench ended by a signal sent to it alone must not leave the agent running with its rules, nor
        // its files behind; the pod namespaces have their own hook.
        Thread exitHook = Thread.ofPlatform().name("shunt-cnibench-cleanup").unstarted(() -> cleanUpAtExit(running.get(), work));
        Runtime.getRuntime().addShutdownHook(exitHook);
        try {
            // Install first, as on a node: the plugin is in place before the agent is, and training is not timed with ADDs.
            List<Path> pluginClassPath = pluginClassPath();
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            long installStart = System.nanoTime();
            Path launcher = InstallLauncher.install(work.resolve("plugins"), java, pluginClassPath, true);
            double installSeconds = (System.nanoTime() - installStart) / 1e9;
            long archiveKib = Files.size(launcher.resolveSibling(InstallLauncher.ARCHIVE)) / 1024;
            CniExec cni = new CniExec(launcher, work);
            out.printf(Locale.ROOT, "installed %s with a %d KiB AppCDS archive in %.1f s (trained with one ADD)%n",
                    launcher, archiveKib, installSeconds);

            Path socket = work.resolve("run/cni.sock");
            Path stateFile = work.resolve("pods.json");
            Measurements m = new Measurements();
            m.versionNanos = versionCalls(cni);
            try (PodNamespaces pods = PodNamespaces.create(TAG, options.pods());
                 AgentProcess agent = AgentProcess.start(List.of("--cni-socket", socket.toString(),
                         "--state-file", stateFile.toString(), "--transport", options.transport(),
                         "--technique", options.technique()), null, AGENT_READY)) {
                running.set(agent);
                m.agentReady = agent.output().stream().filter(l -> l.startsWith("shunt-agent ready")).findFirst()
                        .orElse("?").replaceFirst(":\\s*$", "");
                out.println("agent: pid " + agent.pid() + ", " + m.agentReady);
                out.printf("%d pod namespaces %s0..%d; ADDing them one after another%n", pods.size(), pods.prefix(),
                        pods.size() - 1);
                measure(cni, pods, agent, socket, m);
                m.stateFilePodsLeft = new PodStore(stateFile).load().size();
                m.nftTablesLeft = nftTablesLeft(pods);
                m.agentExit = agent.stop(AGENT_STOP);
                m.techniques = techniques(agent.output());
                m.agentAddNanos = agentSideNanos(agent.output(), "ADD");
                m.agentDelNanos = agentSideNanos(agent.output(), "DEL");
                if (m.agentExit != 0) {
                    throw new IOException("the agent exited with status " + m.agentExit + " after SIGTERM, so it did"
                            + " not remove all its rules; its output:\n" + String.join("\n", agent.output()));
                }
            }
            // Ours are verified gone already; this also catches a concurrent run's, which a reader of the figures should know of.
            m.namespacesLeft = NetnsInventory.withPrefix("shunt-" + TAG + "-");
            report(started, m, archiveKib, installSeconds, pluginClassPath);
            if (m.stateFilePodsLeft != 0 || m.nftTablesLeft != 0 || !m.namespacesLeft.isEmpty()) {
                throw new IOException("the clean-up check failed: " + m.stateFilePodsLeft + " pod(s) left in the state"
                        + " file, " + m.nftTablesLeft + " nft table(s) left in pod namespaces, namespaces still"
                        + " present: " + m.namespacesLeft + "; unless another bench-cni is running, remove them with"
                        + " `ip netns del <name>`");
            }
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(exitHook);
            } catch (IllegalStateException e) {
                // Shutdown is under way: the hook does the rest.
            }
            deleteRecursively(work);
        }
    }

    private static void cleanUpAtExit(AgentProcess agent, Path work) {
        try {
            if (agent != null) {
                agent.close();
            }
        } catch (IOException e) {
            System.err.println("shunt bench-cni: stopping the agent (pid " + agent.pid() + ") at exit failed: "
                    + e.getMessage() + "; check with `ps` and stop it with kill " + agent.pid());
        }
        try {
            deleteRecursively(work);
        } catch (IOException e) {
            System.err.println("shunt bench-cni: deleting " + work + " at exit failed: " + e.getMessage()
                    + "; remove it by hand");
        }
    }

    /** The figures of one run, filled in as it goes. */
    private static final class Measurements {
        long[] versionNanos;
        long[] agentAddNanos = new long[0];
        long[] agentDelNanos = new long[0];
        final List<Long> addNanos = new ArrayList<>();
        final List<Long> delNanos = new ArrayList<>();
        final Map<Integer, ProcessFootprint> footprints = new TreeMap<>();
        String agentReady;
        String pluginStderr = "";
        Map<String, Integer> techniques = Map.of();
        int stateFilePodsLeft = -1;
        int nftTablesLeft = -1;
        int agentExit = -1;
        List<String> namespacesLeft = List.of();
    }

    /** shunt-cni VERSION answers without the agent: what the plugin's start alone costs. */
    private long[] versionCalls(CniExec cni) throws IOException {
        long[] nanos = new long[VERSION_CALLS];
        for (int i = 0; i < VERSION_CALLS; i++) {
            CniExec.Result r = cni.call("VERSION", "version-" + i, null, "", "{\"cniVersion\":\"1.0.0\"}", CALL_TIMEOUT);
            if (r.exit() != 0 || !r.stdout().contains("supportedVersions")) {
                throw new IOException("shunt-cni VERSION failed with exit " + r.exit() + ": " + r.stdout() + r.stderr());
            }
            nanos[i] = r.nanos();
        }
        return nanos;
    }

    private void measure(CniExec cni, PodNamespaces pods, AgentProcess agent, Path socket, Measurements m)
            throws IOException, InterruptedException {
        Path jstat = Path.of(System.getProperty("java.home"), "bin", "jstat");
        jstat = Files.isExecutable(jstat) ? jstat : null;
        List<String> containerIds = new ArrayList<>();
        List<ObjectNode> results = new ArrayList<>();
        if (options.levels().contains(0)) {
            sample(m, 0, agent, jstat);
        }
        for (int i = 0; i < pods.size(); i++) {
            checkDeadline("after " + i + " ADDs");
            String id = HexFormat.of().formatHex(randomBytes(32));
            ObjectNode prevResult = prevResult(pods, i);
            CniExec.Result r = cni.call("ADD", id, pods.path(i), cniArgs(i), config(socket, prevResult), CALL_TIMEOUT);
            JsonNode printed = r.exit() == 0 ? parse(r.stdout()) : null;
            if (r.exit() != 0 || !prevResult.equals(printed)) {
                throw new IOException("CNI ADD of pod " + i + " (" + pods.name(i) + ") " + (r.exit() != 0
                        ? "failed with exit " + r.exit() : "printed something other than its prevResult")
                        + ": stdout " + r.stdout().strip() + ", stderr " + r.stderr().strip()
                        + "; the agent's last lines:\n" + tail(agent.output()));
            }
            if (m.pluginStderr.isEmpty() && !r.stderr().isBlank()) {
                // A stale or rejected archive shows here as a [cds] warning: every start is then slower.
                m.pluginStderr = r.stderr().strip();
            }
            m.addNanos.add(r.nanos());
            containerIds.add(id);
            results.add(prevResult);
            if (options.levels().contains(i + 1)) {
                sample(m, i + 1, agent, jstat);
            }
        }
        out.println("ADD done; DELeting every pod");
        for (int i = 0; i < pods.size(); i++) {
            checkDeadline("after " + i + " DELs");
            CniExec.Result r = cni.call("DEL", containerIds.get(i), pods.path(i), cniArgs(i),
                    config(socket, results.get(i)), CALL_TIMEOUT);
            if (r.exit() != 0) {
                throw new IOException("CNI DEL of pod " + i + " (" + pods.name(i) + ") failed with exit " + r.exit()
                        + ": " + r.stdout().strip() + " " + r.stderr().strip() + "; the agent's last lines:\n"
                        + tail(agent.output()));
            }
            m.delNanos.add(r.nanos());
        }
    }

    private void sample(Measurements m, int pods, AgentProcess agent, Path jstat) throws IOException, InterruptedException {
        Thread.sleep(SETTLE);
        ProcessFootprint f = ProcessFootprint.of(agent.pid(), jstat);
        m.footprints.put(pods, f);
        out.printf(Locale.ROOT, "  %d pod(s): agent VmRSS %.1f MiB, RssAnon %.1f MiB, %d fds%n", pods,
                f.vmRssKib() / 1024.0, f.rssAnonKib() / 1024.0, f.openFds());
    }

    private void checkDeadline(String where) throws IOException {
        if (System.nanoTime() > deadline) {
            throw new IOException("the bench ran past its time limit of " + options.timeLimit().toSeconds() + " s "
                    + where + "; the machine may be overloaded: lower --pods or raise --time-limit");
        }
    }

    /** The network configuration a runtime passes shunt-cni, with the previous plugin's (synthetic) result. */
    private static String config(Path socket, ObjectNode prevResult) {
        ObjectNode conf = JSON.createObjectNode().put("cniVersion", "1.0.0").put("name", NETWORK).put("type", "shunt-cni")
                .put("agentSocket", socket.toString());
        conf.set("prevResult", prevResult);
        return conf.toString();
    }

    /** What a bridge plugin would have returned for pod {@code i}; the agent only needs the namespace. */
    private static ObjectNode prevResult(PodNamespaces pods, int i) {
        ObjectNode result = JSON.createObjectNode().put("cniVersion", "1.0.0");
        result.putArray("interfaces").addObject().put("name", "eth0").put("sandbox", pods.path(i).toString());
        result.putArray("ips").addObject().put("address", "10.23." + (i / 250) + "." + (i % 250 + 2) + "/16")
                .put("interface", 0);
        return result;
    }

    private static String cniArgs(int i) {
        return "IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-" + i;
    }

    private int nftTablesLeft(PodNamespaces pods) throws IOException {
        int left = 0;
        for (String ns : pods.names()) {
            checkDeadline("while checking for nft tables left in the pod namespaces");
            String tables = Topology.exec(ns, "nft", "list", "tables").strip();
            if (!tables.isEmpty()) {
                System.err.println("nft tables left in " + ns + ": " + tables.replace('\n', ' '));
                left += (int) tables.lines().count();
            }
        }
        return left;
    }

    /** How many pods the agent intercepted with each technique, from its log. */
    private static Map<String, Integer> techniques(List<String> agentOutput) {
        Map<String, Integer> counts = new TreeMap<>();
        for (String line : agentOutput) {
            Matcher matcher = INTERCEPTED.matcher(line);
            if (matcher.find()) {
                counts.merge(matcher.group(1), 1, Integer::sum);
            }
        }
        return counts;
    }

    /**
     * How long the agent took over each successful {@code command}, from accepting the plugin's
     * connection to closing it, per its log (whole milliseconds): the rest of a call is the plugin's.
     */
    static long[] agentSideNanos(List<String> agentOutput, String command) {
        List<Long> nanos = new ArrayList<>();
        for (String line : agentOutput) {
            Matcher matcher = CNI_CALL.matcher(line);
            if (matcher.find() && matcher.group(1).equals(command)) {
                nanos.add(Long.parseLong(matcher.group(2)) * 1_000_000);
            }
        }
        return nanos.stream().mapToLong(Long::longValue).toArray();
    }

    /**
     * The plugin's runtime class path as jars, as a real install passes InstallLauncher (the plugin's
     * jar and its lib directory): the jars this JVM loaded the plugin, the wire types and Jackson
     * from. AppCDS archives only classes from jars, so a module on the class path as a directory
     * (target/classes) cannot be used.
     */
    static List<Path> pluginClassPath() throws IOException {
        List<Path> jars = new ArrayList<>();
        // shunt-cni's runtime dependencies (cni-plugin/target/lib): shunt-api and Jackson's three jars.
        for (Class<?> c : List.of(CniMain.class, CniWire.class, ObjectMapper.class, JsonFactory.class, JsonProperty.class)) {
            Path location;
            try {
                location = Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
            } catch (URISyntaxException | NullPointerException e) {
                throw new IOException("cannot tell where " + c.getName() + " was loaded from", e);
            }
            if (!Files.isRegularFile(location)) {
                throw new IOException(c.getName() + " comes from " + location + ", not a jar; the AppCDS training"
                        + " needs jars: run through ./shunt bench-cni, or put the packaged jars on the class path");
            }
            if (!jars.contains(location)) {
                jars.add(location);
            }
        }
        return jars;
    }

    private void report(String started, Measurements m, long archiveKib, double installSeconds, List<Path> pluginClassPath)
            throws IOException {
        long[] adds = m.addNanos.stream().mapToLong(Long::longValue).toArray();
        long[] dels = m.delNanos.stream().mapToLong(Long::longValue).toArray();
        // Keys for the JSON, labels for the table.
        Map<String, LatencySummary> latency = new LinkedHashMap<>();
        Map<String, String> labels = new LinkedHashMap<>();
        latency.put("version", LatencySummary.ofNanos(m.versionNanos));
        labels.put("version", "VERSION (plugin start only)");
        latency.put("add_all", LatencySummary.ofNanos(adds));
        labels.put("add_all", "ADD, all");
        if (adds.length > EARLY_ADDS) {
            latency.put("add_first_" + EARLY_ADDS, LatencySummary.ofNanos(Arrays.copyOf(adds, EARLY_ADDS)));
            labels.put("add_first_" + EARLY_ADDS, "ADD, first " + EARLY_ADDS);
            latency.put("add_after_" + EARLY_ADDS, LatencySummary.ofNanos(Arrays.copyOfRange(adds, EARLY_ADDS, adds.length)));
            labels.put("add_after_" + EARLY_ADDS, "ADD, after the first " + EARLY_ADDS);
        }
        if (m.agentAddNanos.length > 0) {
            latency.put("add_agent_side", LatencySummary.ofNanos(m.agentAddNanos));
            labels.put("add_agent_side", "ADD, agent side (its log)");
        }
        latency.put("del_all", LatencySummary.ofNanos(dels));
        labels.put("del_all", "DEL, all");
        if (m.agentDelNanos.length > 0) {
            latency.put("del_agent_side", LatencySummary.ofNanos(m.agentDelNanos));
            labels.put("del_agent_side", "DEL, agent side (its log)");
        }

        out.println();
        out.printf(Locale.ROOT, "Shunt CNI bench: %d pods, shunt-cni with a %d KiB AppCDS archive, %d cores, %s%n",
                options.pods(), archiveKib, Runtime.getRuntime().availableProcessors(), Instant.now());
        out.println("agent: " + m.agentReady + "; techniques used: " + m.techniques);
        out.println();
        out.printf("%-30s %6s %10s %10s %10s %10s%n", "CNI call, exec to exit", "calls", "median ms", "p90 ms", "p99 ms", "max ms");
        latency.forEach((key, s) -> out.printf(Locale.ROOT, "%-30s %6d %10.1f %10.1f %10.1f %10.1f%n",
                labels.get(key), s.count(), s.medianMs(), s.p90Ms(), s.p99Ms(), s.maxMs()));
        out.println("(agent side: from accepting the plugin's connection to closing it, in whole ms; the rest of a"
                + " call is the plugin's JVM)");
        out.println();
        out.printf("%-14s %10s %12s %12s %14s %9s %8s%n", "agent at", "VmRSS MiB", "RssAnon MiB", "RssFile MiB",
                "heap used MiB", "open fds", "threads");
        m.footprints.forEach((pods, f) -> out.printf(Locale.ROOT, "%-14s %10.1f %12.1f %12.1f %14s %9d %8d%n",
                pods + (pods == 1 ? " pod" : " pods"), f.vmRssKib() / 1024.0, f.rssAnonKib() / 1024.0,
                f.rssFileKib() / 1024.0, f.heapUsedKib() < 0 ? "-" : String.format(Locale.ROOT, "%.1f", f.heapUsedKib() / 1024.0),
                f.openFds(), f.threads()));
        PerPod perPod = perPod(m.footprints);
        if (perPod != null) {
            out.printf(Locale.ROOT, "per extra pod, %d to %d pods: VmRSS %+.0f KiB, RssAnon %+.0f KiB, open fds %+.2f, threads %+.2f%n",
                    perPod.fromPods(), perPod.toPods(), perPod.vmRssKib(), perPod.rssAnonKib(), perPod.openFds(), perPod.threads());
        }
        out.println("(heap used is what jstat -gc saw, uncollected garbage included)");
        out.println();
        out.printf("clean-up: agent exit %d after SIGTERM; %d pod(s) left in the state file; %d nft table(s) left in"
                + " pod namespaces; shunt-%s-* namespaces left: %s%n", m.agentExit, m.stateFilePodsLeft, m.nftTablesLeft,
                TAG, m.namespacesLeft.isEmpty() ? "none" : m.namespacesLeft);
        if (!m.pluginStderr.isEmpty()) {
            out.println("note: shunt-cni wrote to stderr (first occurrence): " + m.pluginStderr);
        }

        Map<String, Object> json = new LinkedHashMap<>();
        json.put("started", started);
        json.put("cores", Runtime.getRuntime().availableProcessors());
        json.put("kernel", System.getProperty("os.version"));
        json.put("java", Runtime.version().toString());
        json.put("pods", options.pods());
        json.put("transport", options.transport());
        json.put("technique", options.technique());
        json.put("agent_ready", m.agentReady);
        json.put("techniques_used", m.techniques);
        json.put("launcher", Map.of("archive_kib", archiveKib, "install_and_training_s", installSeconds,
                "class_path", pluginClassPath.stream().map(Path::toString).toList()));
        json.put("latency", latency);
        json.put("add_ms", m.addNanos.stream().map(LatencySummary::ms).toList());
        json.put("del_ms", m.delNanos.stream().map(LatencySummary::ms).toList());
        Map<String, ProcessFootprint> footprints = new LinkedHashMap<>();
        m.footprints.forEach((pods, f) -> footprints.put(Integer.toString(pods), f));
        json.put("agent_footprint_by_pods", footprints);
        json.put("per_extra_pod", perPod);
        json.put("clean_up", Map.of("agent_exit", m.agentExit, "state_file_pods_left", m.stateFilePodsLeft,
                "nft_tables_left", m.nftTablesLeft, "namespaces_left", m.namespacesLeft));
        json.put("plugin_stderr", m.pluginStderr);
        Path file = options.json().toAbsolutePath();
        Files.createDirectories(file.getParent());
        JSON.writeValue(file.toFile(), json);
        out.println("figures also written to " + options.json());
    }

    /** The increase per pod between the two highest sampled levels, or null with fewer than two. */
    record PerPod(int fromPods, int toPods, double vmRssKib, double rssAnonKib, double openFds, double threads) {
    }

    static PerPod perPod(Map<Integer, ProcessFootprint> byPods) {
        List<Integer> levels = byPods.keySet().stream().sorted().toList();
        if (levels.size() < 2) {
            return null;
        }
        int from = levels.get(levels.size() - 2);
        int to = levels.getLast();
        ProcessFootprint a = byPods.get(from);
        ProcessFootprint b = byPods.get(to);
        double n = to - from;
        return new PerPod(from, to, (b.vmRssKib() - a.vmRssKib()) / n, (b.rssAnonKib() - a.rssAnonKib()) / n,
                (b.openFds() - a.openFds()) / n, (b.threads() - a.threads()) / n);
    }

    private static JsonNode parse(String stdout) {
        try {
            return JSON.readTree(stdout);
        } catch (IOException e) {
            return null;
        }
    }

    private static byte[] randomBytes(int n) {
        byte[] bytes = new byte[n];
        ThreadLocalRandom.current().nextBytes(bytes);
        return bytes;
    }

    private static String tail(List<String> lines) {
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
