package io.shunt.testbed;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The reference proxy of {@code ./shunt bench} (issue #7): HAProxy from the distribution (2.6 on
 * Debian 12), in TCP mode, inside one pod's namespace behind an nftables REDIRECT that is the same
 * as Shunt's {@code redirect} technique.
 *
 * <ul>
 *   <li><b>Original destination.</b> The backend's only server is {@code 0.0.0.0} with no port:
 *       HAProxy then connects to the address and port the client connected to, its frontend's
 *       {@code dst}. For a connection that nat REDIRECT diverted, HAProxy reads that with
 *       {@code getsockopt(SO_ORIGINAL_DST)} from conntrack, so it is the original destination.
 *       No {@code option transparent} or {@code set-dst} is needed.</li>
 *   <li><b>No loop.</b> Shunt's rules let the proxy's upstream sockets out by their mark. HAProxy
 *       2.6 cannot mark its server-side sockets (its {@code set-mark} marks the packets sent to the
 *       client), so HAProxy runs as its own user ({@code user haproxy},
 *       which the Debian package creates; it drops root after binding) and the rules let that
 *       user's sockets out with {@code meta skuid}. The rest is as in Shunt's redirect: IPv4 TCP
 *       only, local destinations skipped, everything else {@code redirect to :15001}.</li>
 *   <li>{@code nbthread 2} (the machine's two cores), no {@code log} line (nothing is logged), and
 *       HAProxy's defaults otherwise: no splicing, 16 KiB buffers.</li>
 * </ul>
 *
 * <p>The two rules that matter carry counters: {@link #counters()} says how many connections were
 * redirected to HAProxy and how many of HAProxy's own went out untouched. The counters are in the
 * nat chain, which sees only the first packet of each connection.
 */
final class HaproxyReference implements AutoCloseable {
    static final int PORT = 15001;
    static final int THREADS = 2;
    /**
     * HAProxy raises its fd limit to about twice maxconn at start and refuses to start past the hard
     * limit (20,000 on the bench machine, which maxconn 10,000 exceeded); the bench needs at most 2 x 512.
     */
    static final int MAX_CONNECTIONS = 4096;
    static final String USER = "haproxy";
    static final String TABLE = "shunt_bench_haproxy";
    static final String CHAIN = "output_redirect";
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(15);
    private static final Pattern BYPASSED = Pattern.compile("meta skuid \\S+ counter packets (\\d+) ");
    private static final Pattern REDIRECTED = Pattern.compile("counter packets (\\d+) bytes \\d+ redirect to :");
    private static final Pattern VERSION = Pattern.compile("HAProxy version (\\S+)");

    private final BenchDaemon daemon;
    private final PodNs pod;

    private HaproxyReference(BenchDaemon daemon, PodNs pod) {
        this.daemon = daemon;
        this.pod = pod;
    }

    /** HAProxy's configuration: a TCP proxy on {@code port} to each connection's original destination. */
    static String config(int port, int threads, int maxConnections, String user) {
        return """
                # ./shunt bench: the reference proxy, behind nftables REDIRECT in its pod's namespace.
                global
                    nbthread %d
                    maxconn %d
                    # Drops root after binding. The nft rules let this user's connections out unredirected:
                    # HAProxy 2.6 cannot mark its server-side sockets.
                    user %s
                    group %s
                    # No "log" line: nothing is logged.

                defaults
                    mode tcp
                    timeout connect 5s
                    timeout client 60s
                    timeout server 60s

                frontend intercepted
                    bind 0.0.0.0:%d
                    default_backend original_destination

                backend original_destination
                    # 0.0.0.0 and no port: the address and port the client connected to (dst). For a
                    # REDIRECTed connection that is the original destination (SO_ORIGINAL_DST, conntrack).
                    server original 0.0.0.0
                """.formatted(threads, maxConnections, user, user, port);
    }

    /**
     * The nft script for the pod's namespace: Shunt's redirect rules, with HAProxy's user in place
     * of the proxy's mark.
     */
    static String nftScript(int port, long uid) {
        return """
                table inet %s {
                \tchain %s {
                \t\ttype nat hook output priority -100; policy accept;
                \t\tmeta nfproto != ipv4 return
                \t\tmeta l4proto != tcp return
                \t\tmeta skuid %d counter return
                \t\tfib daddr type local return
                \t\tmeta l4proto tcp counter redirect to :%d
                \t}
                }
                """.formatted(TABLE, CHAIN, uid, port);
    }

    /** The version HAProxy reports, e.g. {@code 2.6.12-1+deb12u4}. */
    static String version() throws IOException {
        return parseVersion(Command.run(List.of("haproxy", "-v"), Command.DEFAULT_TIMEOUT,
                "HAProxy is the bench's reference proxy: run ./shunt setup (Debian package haproxy)"));
    }

    static String parseVersion(String haproxyV) {
        Matcher m = VERSION.matcher(haproxyV);
        if (!m.find()) {
            throw new IllegalArgumentException("haproxy -v printed no version: " + haproxyV.strip());
        }
        return m.group(1);
    }

    /**
     * Installs the rules in {@code pod}'s namespace and starts HAProxy there, in the foreground;
     * returns once it listens. The configuration and rules files are deleted once HAProxy has read them.
     */
    static HaproxyReference start(PodNs pod) throws IOException {
        long uid = uid(USER);
        Path dir = Files.createTempDirectory("shunt-bench-haproxy-");
        BenchDaemon daemon = null;
        try {
            Path config = Files.writeString(dir.resolve("haproxy.cfg"), config(PORT, THREADS, MAX_CONNECTIONS, USER));
            Path rules = Files.writeString(dir.resolve("rules.nft"), nftScript(PORT, uid));
            Topology.exec(pod.netnsName(), "nft", "-f", rules.toString());
            // -db: stay in the foreground, one process (no master-worker), so the pid is HAProxy's own.
            daemon = BenchDaemon.start("haproxy", pod.netnsName(), "haproxy", "-db", "-f", config.toString());
            daemon.awaitListening(PORT, READY_TIMEOUT);
            String command = BenchProc.command(daemon.pid());
            if (!command.equals("haproxy")) {
                throw new IOException("pid " + daemon.pid() + " is '" + command + "', not haproxy");
            }
            return new HaproxyReference(daemon, pod);
        } catch (IOException | RuntimeException e) {
            try {
                if (daemon != null) {
                    daemon.close();
                }
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        } finally {
            // HAProxy read its configuration at start and never reloads: nothing is left on disk, even after a kill.
            deleteDirectory(dir);
        }
    }

    long pid() {
        return daemon.pid();
    }

    boolean alive() {
        return daemon.alive();
    }

    /** What HAProxy printed (it logs nothing, so only its start-up notices and any alerts). */
    String output() {
        return daemon.output();
    }

    /** Connections redirected to HAProxy so far, and HAProxy's own connections let out. */
    Counters counters() throws IOException {
        return parseCounters(Topology.exec(pod.netnsName(), "nft", "list", "chain", "inet", TABLE, CHAIN));
    }

    static Counters parseCounters(String chainListing) {
        return new Counters(find(REDIRECTED, chainListing), find(BYPASSED, chainListing));
    }

    private static long find(Pattern p, String listing) {
        Matcher m = p.matcher(listing);
        if (!m.find()) {
            throw new IllegalArgumentException("no counter matching " + p + " in:\n" + listing);
        }
        return Long.parseLong(m.group(1));
    }

    /** Stops HAProxy; its rules go with the pod's namespace. */
    @Override
    public void close() throws IOException {
        daemon.close();
    }

    private static long uid(String user) throws IOException {
        try {
            return Long.parseLong(Command.run(List.of("id", "-u", user), Command.DEFAULT_TIMEOUT,
                    "the Debian package haproxy creates this user; run ./shunt setup").strip());
        } catch (NumberFormatException e) {
            throw new IOException("`id -u " + user + "` printed no number", e);
        }
    }

    private static void deleteDirectory(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.delete(f);
            }
        }
        Files.delete(dir);
    }

    /**
     * @param redirected connections the REDIRECT rule sent to HAProxy
     * @param bypassed   connections of HAProxy's user let out unredirected: its upstream legs
     */
    record Counters(long redirected, long bypassed) {
    }

    @Override
    public String toString() {
        return "haproxy " + daemon;
    }
}
