package io.shunt.testbed;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A server tool that {@code ./shunt bench} runs for the length of the bench inside one of its
 * namespaces (HAProxy in pod-d, the iperf3 server in the upstream). {@code ip netns exec} execs the
 * tool in place, so {@link #pid()} is the tool's own pid, whose {@code /proc} entries the bench
 * reads. Its output is kept (the first {@value #MAX_OUTPUT} characters) for error messages.
 *
 * <p>A shutdown hook stops the tool if the bench's JVM exits without {@link #close()}ing it
 * (Ctrl-C, SIGTERM, an uncaught error): deleting a namespace does not end the processes in it.
 */
final class BenchDaemon implements AutoCloseable {
    private static final int MAX_OUTPUT = 16_384;
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Duration STOP_GRACE = Duration.ofSeconds(10);

    private final String name;
    private final String netnsName;
    private final Process process;
    private final StringBuilder output = new StringBuilder();
    private final Thread shutdownHook;
    private boolean closed;

    private BenchDaemon(String name, String netnsName, Process process) {
        this.name = name;
        this.netnsName = netnsName;
        this.process = process;
        this.shutdownHook = Thread.ofPlatform().name("shunt-bench-stop-" + name).unstarted(this::stopQuietly);
        pump(process.getInputStream());
        pump(process.getErrorStream());
    }

    /** Starts {@code cmd} in namespace {@code netnsName} (one of the testbed's own, see {@link Topology#start}). */
    static BenchDaemon start(String name, String netnsName, String... cmd) throws IOException {
        Process process = Topology.start(netnsName, cmd);
        BenchDaemon daemon = new BenchDaemon(name, netnsName, process);
        try {
            Runtime.getRuntime().addShutdownHook(daemon.shutdownHook);
        } catch (IllegalStateException e) {
            daemon.stopQuietly();
            throw new IOException("the JVM is shutting down; " + name + " was stopped again", e);
        }
        return daemon;
    }

    long pid() {
        return process.pid();
    }

    boolean alive() {
        return process.isAlive();
    }

    /** What the tool printed so far, stdout and stderr interleaved as read. */
    String output() {
        synchronized (output) {
            return output.toString().strip();
        }
    }

    /**
     * Waits until something listens on TCP {@code port} in the tool's namespace ({@code ss}), and
     * fails if the tool exits first or {@code timeout} passes.
     */
    void awaitListening(int port, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new IOException(name + " exited with status " + process.exitValue() + " before it listened on port "
                        + port + "; its output:\n" + output());
            }
            String listening = Topology.exec(netnsName, "ss", "-Htln", "sport = :" + port);
            if (!listening.isBlank()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IOException(name + " did not listen on port " + port + " within " + timeout.toSeconds()
                        + " s; its output:\n" + output());
            }
            try {
                Thread.sleep(POLL);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for " + name, e);
            }
        }
    }

    /** SIGTERM, then SIGKILL after 10 s; throws if the process is still there after both. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // The JVM is shutting down and the hook is running or about to; stopping twice is harmless.
        }
        stop();
        closed = true;
    }

    private void stop() throws IOException {
        try {
            process.destroy();
            if (!process.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    throw new IOException(name + " (pid " + process.pid() + ") did not end after SIGTERM and SIGKILL");
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while stopping " + name, e);
        }
    }

    private void stopQuietly() {
        try {
            stop();
        } catch (IOException e) {
            System.err.println("shunt bench: " + e.getMessage());
        }
    }

    private void pump(InputStream stream) {
        // Reading a pipe touches no namespace, so a virtual thread is fine here.
        Thread.ofVirtual().name("bench-" + name + "-output").start(() -> {
            byte[] buffer = new byte[4096];
            try (stream) {
                for (int n; (n = stream.read(buffer)) >= 0; ) {
                    String text = new String(buffer, 0, n, StandardCharsets.UTF_8);
                    synchronized (output) {
                        output.append(text, 0, Math.max(0, Math.min(text.length(), MAX_OUTPUT - output.length())));
                    }
                }
            } catch (IOException e) {
                // the process ended; its exit status tells the rest
            }
        });
    }

    /** Those of {@code pids} whose process is still alive: empty once all were closed. */
    static List<Long> stillRunning(List<Long> pids) {
        List<Long> alive = new ArrayList<>();
        for (long pid : pids) {
            if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                alive.add(pid);
            }
        }
        return alive;
    }

    @Override
    public String toString() {
        return name + " (pid " + process.pid() + " in " + netnsName + ")";
    }
}
