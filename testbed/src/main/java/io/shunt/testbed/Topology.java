package io.shunt.testbed;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A test topology made only of network namespaces this class creates: a router/upstream namespace
 * holding the service addresses, and N pods, each linked to the router by a veth pair.
 *
 * <pre>
 *   pod-a  eth0 10.201.1.2/24 ──veth── vp0 10.201.1.1/24 ┐
 *   pod-b  eth0 10.201.2.2/24 ──veth── vp1 10.201.2.1/24 ┤ up  (ip_forward=1, lo: 10.201.0.10, .20, .30)
 *   ...                                                   ┘
 * </pre>
 *
 * <p>All names start with {@code shunt-<tag>-<4 hex>-}, so parallel and left-over runs never
 * collide and {@link #removeLeftovers} can recognise them. Nothing is created in the root
 * namespace, and pods have no default route, so test traffic cannot leave the topology.
 *
 * <p>Close servers and {@code NetNs} handles before the topology: an open socket keeps a deleted
 * namespace alive (though nameless) until it is closed.
 */
public final class Topology implements AutoCloseable {
    public static final int DEFAULT_PODS = 2;
    public static final int MAX_PODS = TopologyPlan.MAX_PODS;
    /** How many service addresses the upstream namespace has on its {@code lo}. */
    public static final int SERVICE_COUNT = TopologyPlan.SERVICE_COUNT;

    private static final System.Logger LOG = System.getLogger(Topology.class.getName());
    private static final Pattern TAG = Pattern.compile("[a-z0-9]{1,12}");
    private static final String NAME_PREFIX = "shunt-";
    private static final int PREFIX_ATTEMPTS = 16;

    /** Applies one wiring command; tests substitute a runner that fails on purpose half-way. */
    @FunctionalInterface
    interface Runner {
        void run(List<String> argv) throws IOException;
    }

    private final TopologyPlan plan;
    /** Namespaces created so far, for clean-up; the shutdown hook may read it while the build runs. */
    private final List<String> created = new CopyOnWriteArrayList<>();
    private final Thread shutdownHook;
    private boolean closed;

    private Topology(TopologyPlan plan) {
        this.plan = plan;
        this.shutdownHook = Thread.ofPlatform().name("shunt-testbed-cleanup-" + plan.prefix()).unstarted(this::cleanUpOnExit);
    }

    /** Builds a topology with {@value #DEFAULT_PODS} pods. */
    public static Topology create(String tag) throws IOException {
        return create(tag, DEFAULT_PODS);
    }

    /**
     * Builds a topology with {@code pods} pods (1..{@value #MAX_PODS}). If any step fails, what was
     * already created is deleted before the exception is thrown.
     *
     * @param tag lower-case letters and digits, e.g. {@code kt} or {@code demo}; part of every name
     */
    public static Topology create(String tag, int pods) throws IOException {
        return create(tag, pods, argv -> Command.run(argv, Command.DEFAULT_TIMEOUT,
                "the topology is being rolled back; check that iproute2 works and you are root"));
    }

    static Topology create(String tag, int pods, Runner runner) throws IOException {
        requireTag(tag);
        TopologyPlan.of(NAME_PREFIX + tag + "-0000-", pods); // validates the pod count before anything is claimed
        Topology topology = new Topology(TopologyPlan.of(claimPrefix(tag), pods));
        topology.build(runner);
        return topology;
    }

    private void build(Runner runner) throws IOException {
        // The hook goes in first so that Ctrl-C during the build still removes what exists so far.
        Runtime.getRuntime().addShutdownHook(shutdownHook);
        try {
            for (String name : plan.namespaceNames()) {
                runner.run(List.of("ip", "netns", "add", name));
                created.add(name);
            }
            for (List<String> argv : plan.wiring()) {
                runner.run(argv);
            }
            LOG.log(System.Logger.Level.DEBUG, "built topology {0}: {1}, {2}", plan.prefix(), plan.upstream(), plan.pods());
        } catch (IOException | RuntimeException e) {
            try {
                close();
            } catch (IOException | RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** The common start of every namespace name, e.g. {@code shunt-kt-1a2b-}. Namespaces a caller adds under it are deleted by {@link #close}. */
    public String prefix() {
        return plan.prefix();
    }

    public UpstreamNs upstream() {
        return plan.upstream();
    }

    public List<PodNs> pods() {
        return plan.pods();
    }

    /** Pod {@code index}, 0-based: 0 is {@code pod-a}. */
    public PodNs pod(int index) {
        return plan.pods().get(index);
    }

    /** Service address {@code index} (0..{@value #SERVICE_COUNT}-1): 10.201.0.10, .20, .30, on the upstream's {@code lo}. */
    public InetAddress serviceAddress(int index) {
        return plan.upstream().serviceAddresses().get(index);
    }

    /** Full names of all namespaces of this topology, router first. */
    public List<String> namespaceNames() {
        return plan.namespaceNames();
    }

    /**
     * Deletes every namespace of this topology (and any other under {@link #prefix()}), then checks
     * {@code ip netns list} and throws if one is still there. Idempotent; a failed close can be retried.
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException | IllegalArgumentException e) {
            // Shutdown already under way (the hook is running or about to), or the hook was never added.
        }
        NetnsInventory.deleteAllAndVerify(plan.prefix(), created);
        OwnerMark.remove(plan.prefix());
        closed = true;
    }

    private void cleanUpOnExit() {
        try {
            close();
        } catch (IOException | RuntimeException e) {
            System.err.println("shunt testbed: cleaning up topology " + plan.prefix() + " at exit failed: " + e.getMessage());
        }
    }

    /**
     * Deletes the namespaces {@code shunt-<tag>-*} that crashed earlier runs left behind. Topologies
     * whose owning process is still alive are kept. Returns the names it removed.
     */
    public static List<String> removeLeftovers(String tag) throws IOException {
        Pattern ours = Pattern.compile("(" + Pattern.quote(NAME_PREFIX + requireTag(tag) + "-") + "[0-9a-f]{4}-).+");
        Map<String, List<String>> byPrefix = new TreeMap<>();
        for (String name : NetnsInventory.list()) {
            Matcher m = ours.matcher(name);
            if (m.matches()) {
                byPrefix.computeIfAbsent(m.group(1), p -> new ArrayList<>()).add(name);
            }
        }
        List<String> removed = new ArrayList<>();
        for (Map.Entry<String, List<String>> entry : byPrefix.entrySet()) {
            String prefix = entry.getKey();
            if (OwnerMark.ownerAlive(prefix)) {
                LOG.log(System.Logger.Level.INFO, "keeping namespaces {0}: their topology''s process is still running", entry.getValue());
                continue;
            }
            NetnsInventory.deleteAllAndVerify(prefix, entry.getValue());
            OwnerMark.remove(prefix);
            LOG.log(System.Logger.Level.INFO, "removed network namespaces left by an earlier run: {0}", entry.getValue());
            removed.addAll(entry.getValue());
        }
        removeStaleMarks(tag);
        return removed;
    }

    /** Marks whose namespaces are already gone and whose owner died: nothing else would ever remove them. */
    private static void removeStaleMarks(String tag) throws IOException {
        if (!Files.isDirectory(OwnerMark.DIR)) {
            return;
        }
        try (DirectoryStream<Path> marks = Files.newDirectoryStream(OwnerMark.DIR, NAME_PREFIX + tag + "-????" + OwnerMark.SUFFIX)) {
            for (Path mark : marks) {
                String prefix = OwnerMark.prefixOf(mark).orElseThrow();
                if (!OwnerMark.ownerAlive(prefix) && NetnsInventory.withPrefix(prefix).isEmpty()) {
                    OwnerMark.remove(prefix);
                }
            }
        }
    }

    /** Runs {@code cmd} inside namespace {@code netnsName} ({@code ip netns exec}) and returns its stdout. */
    public static String exec(String netnsName, String... cmd) throws IOException {
        return exec(netnsName, Command.DEFAULT_TIMEOUT, cmd);
    }

    /** Runs {@code cmd} where the caller runs (for queries such as {@code bpftool cgroup show DIR}). */
    public static String execHere(String... cmd) throws IOException {
        return Command.run(List.of(cmd), Command.DEFAULT_TIMEOUT, "the command ran in the caller's namespace");
    }

    /** As {@link #exec(String, String...)}, killing the command after {@code timeout}. */
    public static String exec(String netnsName, Duration timeout, String... cmd) throws IOException {
        return Command.run(inNamespace(netnsName, cmd), timeout, "the command ran inside netns " + netnsName);
    }

    /**
     * Starts {@code cmd} inside namespace {@code netnsName} and returns the running process. The
     * caller drains its output and makes sure it ends (e.g. {@code waitFor} with a timeout, then
     * {@code destroyForcibly}).
     */
    public static Process start(String netnsName, String... cmd) throws IOException {
        return Command.start(inNamespace(netnsName, cmd));
    }

    private static List<String> inNamespace(String netnsName, String... cmd) {
        if (!netnsName.startsWith(NAME_PREFIX)) {
            // The testbed only works in namespaces it created; never in the root or someone else's.
            throw new IllegalArgumentException("refusing to run " + Arrays.toString(cmd) + " in netns '" + netnsName
                    + "': the testbed only runs commands in its own namespaces (" + NAME_PREFIX + "*)");
        }
        if (cmd.length == 0) {
            throw new IllegalArgumentException("no command given to run in netns " + netnsName);
        }
        List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", netnsName));
        argv.addAll(Arrays.asList(cmd));
        return argv;
    }

    private static String requireTag(String tag) {
        if (tag == null || !TAG.matcher(tag).matches()) {
            throw new IllegalArgumentException("topology tag '" + tag + "' must be 1-12 lower-case letters or digits "
                    + "(no '-', so that one tag's clean-up never matches another's namespaces)");
        }
        return tag;
    }

    /**
     * Picks four random hex digits no existing namespace uses and claims them with an owner mark;
     * {@link PodNamespaces} claims its prefixes here too, so the two never collide.
     * Creating the mark is atomic, so two runs racing for the same digits cannot both win.
     */
    static String claimPrefix(String tag) throws IOException {
        requireTag(tag);
        List<String> existing = NetnsInventory.list();
        for (int attempt = 0; attempt < PREFIX_ATTEMPTS; attempt++) {
            String prefix = NAME_PREFIX + tag + "-" + String.format("%04x", ThreadLocalRandom.current().nextInt(0x10000)) + "-";
            if (existing.stream().noneMatch(name -> name.startsWith(prefix)) && OwnerMark.tryClaim(prefix)) {
                return prefix;
            }
        }
        throw new IOException("no free namespace prefix for tag '" + tag + "' after " + PREFIX_ATTEMPTS
                + " attempts; remove old runs with Topology.removeLeftovers(\"" + tag + "\") or `ip netns list`");
    }
}
