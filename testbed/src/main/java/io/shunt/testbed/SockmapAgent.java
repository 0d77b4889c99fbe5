package io.shunt.testbed;

import io.shunt.hijack.TechniqueId;

import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;

/**
 * The bench's agent for the sockmap technique: a second agent process beside the one that runs the
 * other techniques, on the same transport, started inside the group it attaches to. Its programs attach to
 * cgroup v2 groups, so it runs in a {@link ScratchCgroup} of its own ({@code shunt-bench-<pid>-<n>}),
 * which is also the pod's group given with {@code --pod NAME=NETNS,cgroup=DIR}: only sockets of
 * processes in that group are diverted. The row's clients therefore run in the group too:
 * {@link #inGroup} moves this JVM in for one call, and what it starts meanwhile (wrk, iperf3) is born
 * there; its in-JVM sockets too.
 *
 * <p>{@link #close} stops the agent, moves the JVM back and removes the group, on every path; a
 * shutdown hook does the same on Ctrl-C or SIGTERM.
 */
final class SockmapAgent implements AutoCloseable {
    static final String CGROUP_PREFIX = "shunt-bench";
    /** How long clients left in the group get to end by themselves, then to end after SIGTERM. */
    private static final Duration CLIENT_GRACE = Duration.ofSeconds(5);
    private static final Duration STOP_GRACE = Duration.ofSeconds(15);

    private final ScratchCgroup cgroup;
    private final Thread hook;
    /** Guards entering and leaving the group, and {@link #closed}. */
    private final Object membership = new Object();
    private volatile AgentProcess agent;
    /** Closing it moves this JVM back to its own group; null while the JVM is not in ours. */
    private AutoCloseable entered;
    private boolean closed;

    /** Registers the clean-up first: a shutdown while the agent starts removes the group too. */
    private SockmapAgent(ScratchCgroup cgroup) {
        this.cgroup = cgroup;
        this.hook = Thread.ofPlatform().name("shunt-bench-stop-sockmap-agent").unstarted(() -> {
            try {
                close();
            } catch (IOException e) {
                System.err.println("shunt bench: stopping the sockmap agent at exit: " + e.getMessage());
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** The agent's arguments for {@code pod} in {@code cgroup}. */
    static List<String> agentArgs(PodNs pod, ScratchCgroup cgroup, String transport) {
        return List.of("--pod", pod.name() + "=" + pod.netnsPath() + ",cgroup=" + cgroup.dir(),
                "--pod-technique", pod.name() + "=" + TechniqueId.SOCKMAP.id(), "--transport", transport);
    }

    /**
     * Creates the group and starts the agent in it, intercepting {@code pod} with sockmap; waits until
     * it is ready. On failure nothing is left: no agent, no group, the JVM in its own group.
     */
    static SockmapAgent start(PodNs pod, String transport, PrintStream echo, Duration readyTimeout) throws IOException {
        ScratchCgroup.removeLeftovers(CGROUP_PREFIX);
        SockmapAgent sockmap = new SockmapAgent(ScratchCgroup.create(CGROUP_PREFIX));
        try {
            sockmap.agent = sockmap.inGroup(() -> AgentProcess.start(agentArgs(pod, sockmap.cgroup, transport), echo,
                    readyTimeout));
            return sockmap;
        } catch (IOException | RuntimeException e) {
            try {
                sockmap.close();
            } catch (IOException | RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** What {@link #inGroup} runs. */
    @FunctionalInterface
    interface Action<T> {
        T run() throws IOException;
    }

    /** Runs {@code action} with this JVM in the group, so the clients it starts are the pod's. */
    <T> T inGroup(Action<T> action) throws IOException {
        synchronized (membership) {
            if (closed) {
                throw new IOException("the sockmap row's agent is stopped and its cgroup removed");
            }
            entered = cgroup.enter();
        }
        try {
            return action.run();
        } finally {
            leaveIfIn();
        }
    }

    long pid() {
        return agent.pid();
    }

    List<String> output() {
        return agent.output();
    }

    ScratchCgroup cgroup() {
        return cgroup;
    }

    /** SIGTERM to the agent; its exit code. {@link #close} still removes the group. */
    int stop(Duration timeout) throws IOException {
        return agent.stop(timeout);
    }

    /** After {@link #stop}: removes the group now (as {@link #close} does), or throws saying why not. */
    void removeCgroup() throws IOException {
        close();
    }

    /**
     * Moves the JVM back if it is in the group (a shutdown while a client of the row runs), stops
     * the agent if it runs, waits for what else is in the group to end, removes the group.
     */
    @Override
    public synchronized void close() throws IOException {
        IOException failure = null;
        synchronized (membership) {
            if (closed) {
                return;
            }
            closed = true;
            try {
                leaveIfIn();
            } catch (IOException e) {
                failure = e;
            }
        }
        AgentProcess started = agent;
        if (started != null) {
            try {
                started.close();
            } catch (IOException e) {
                failure = add(failure, e);
            }
        }
        try {
            endClients();
            cgroup.close();
        } catch (IOException e) {
            failure = add(failure, new IOException(e.getMessage() + " (remove it by hand once they have ended: rmdir "
                    + cgroup.dir() + ")", e));
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // shutting down: this is the hook
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void leaveIfIn() throws IOException {
        synchronized (membership) {
            AutoCloseable was = entered;
            entered = null;
            if (was != null) {
                leave(was);
            }
        }
    }

    /**
     * Waits for clients still in the group (a shutdown during the row: wrk or iperf3 outlive this
     * JVM's wait for them; an agent whose start was interrupted) to end, and after a few seconds
     * sends SIGTERM to those this JVM started. Nothing else is touched: the group only ever holds
     * the agent and what this JVM started in it.
     */
    private void endClients() throws IOException {
        long deadline = System.nanoTime() + CLIENT_GRACE.toNanos();
        boolean ended = false;
        while (!cgroup.processes().isEmpty()) {
            if (System.nanoTime() > deadline) {
                if (ended) {
                    return; // close() names what is left
                }
                List<Long> left = cgroup.processes();
                ProcessHandle.current().descendants().filter(p -> left.contains(p.pid())).forEach(ProcessHandle::destroy);
                ended = true;
                deadline = System.nanoTime() + STOP_GRACE.toNanos();
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void leave(AutoCloseable entered) throws IOException {
        try {
            entered.close();
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("could not move this JVM back to its own cgroup: " + e.getMessage(), e);
        }
    }

    private static IOException add(IOException first, IOException next) {
        if (first == null) {
            return next;
        }
        first.addSuppressed(next);
        return first;
    }
}
