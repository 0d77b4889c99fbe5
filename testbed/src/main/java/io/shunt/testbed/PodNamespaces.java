package io.shunt.testbed;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Bare pod network namespaces, {@code shunt-<tag>-<4 hex>-<i>}, each with only {@code lo} up: no
 * veth, no address, no route, so hundreds cost little and nothing can reach them. For what needs a
 * pod to exist but sends no traffic, such as CNI ADD and DEL against the agent; a {@link Topology}
 * wires pods to an upstream but has at most {@value Topology#MAX_PODS}.
 *
 * <p>The prefix is claimed like a topology's, so {@link Topology#removeLeftovers} removes the
 * namespaces of a crashed run and never those of a live one.
 */
public final class PodNamespaces implements AutoCloseable {
    /** Enough for any node's pod count; a bound so that a typo cannot create thousands. */
    public static final int MAX = 1000;
    private static final String NETNS_DIR = "/var/run/netns";

    private final String prefix;
    private final int count;
    /** Namespaces created so far; the shutdown hook may read it while creation runs. */
    private final List<String> created = new CopyOnWriteArrayList<>();
    private final Thread shutdownHook;
    private boolean closed;

    private PodNamespaces(String prefix, int count) {
        this.prefix = prefix;
        this.count = count;
        this.shutdownHook = Thread.ofPlatform().name("shunt-testbed-cleanup-" + prefix).unstarted(this::cleanUpOnExit);
    }

    /**
     * Creates {@code count} namespaces with {@code lo} up. If a step fails, what exists so far is
     * deleted before the exception is thrown.
     *
     * @param tag lower-case letters and digits, part of every name, as for {@link Topology#create(String, int)}
     */
    public static PodNamespaces create(String tag, int count) throws IOException {
        if (count < 1 || count > MAX) {
            throw new IllegalArgumentException("pod namespaces: asked for " + count + ", allowed 1.." + MAX);
        }
        PodNamespaces pods = new PodNamespaces(Topology.claimPrefix(tag), count);
        // The hook goes in first so that Ctrl-C during creation still removes what exists so far.
        Runtime.getRuntime().addShutdownHook(pods.shutdownHook);
        try {
            for (int i = 0; i < count; i++) {
                String name = pods.name(i);
                run(List.of("ip", "netns", "add", name));
                pods.created.add(name);
                // The agent binds its listeners on the pod's loopback.
                run(List.of("ip", "-n", name, "link", "set", "lo", "up"));
            }
        } catch (IOException | RuntimeException e) {
            try {
                pods.close();
            } catch (IOException | RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        return pods;
    }

    public String prefix() {
        return prefix;
    }

    public int size() {
        return count;
    }

    /** Namespace {@code index}, 0-based. */
    public String name(int index) {
        return prefix + index;
    }

    /** What a runtime passes as CNI_NETNS for namespace {@code index}. */
    public Path path(int index) {
        return Path.of(NETNS_DIR, name(index));
    }

    public List<String> names() {
        List<String> names = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            names.add(name(i));
        }
        return names;
    }

    /** Deletes every namespace under {@link #prefix()} and verifies with a fresh listing; idempotent. */
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
        NetnsInventory.deleteAllAndVerify(prefix, created);
        OwnerMark.remove(prefix);
        closed = true;
    }

    private void cleanUpOnExit() {
        try {
            close();
        } catch (IOException | RuntimeException e) {
            System.err.println("shunt testbed: deleting namespaces " + prefix + "* at exit failed: " + e.getMessage());
        }
    }

    private static void run(List<String> argv) throws IOException {
        Command.run(argv, Command.DEFAULT_TIMEOUT, "the pod namespaces are being rolled back; check that iproute2 works"
                + " and you are root");
    }
}
