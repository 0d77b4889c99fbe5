package io.shunt.testbed;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The standalone agent run as its own process, the way an operator runs it: same JVM and class
 * path as this one, output echoed with a prefix, connection log lines collected for inspection.
 */
public final class AgentProcess implements AutoCloseable {
    private static final String MAIN = "io.shunt.agent.standalone.StandaloneMain";
    private static final String READY = "shunt-agent ready";
    /**
     * The heap and GC of a node agent as deployed (deploy/kubernetes/daemonset.yaml, the systemd
     * unit): tests and benchmarks measure the agent users run, not the JVM's desktop defaults.
     */
    public static final List<String> NODE_AGENT_JVM_FLAGS = List.of("-XX:+UseSerialGC", "-Xms24m", "-Xmx128m",
            "-Xmn12m", "-XX:MaxDirectMemorySize=64m", "-XX:+ExitOnOutOfMemoryError", "-XX:CICompilerCount=2", "-Xss512k",
            "-Dio.netty.allocator.numDirectArenas=1", "-Dio.netty.allocator.numHeapArenas=1",
            "-Dio.netty.leakDetection.level=disabled");
    /** The deployed agent's environment: glibc's malloc arenas capped (docs/operations.md, memory). */
    public static final java.util.Map<String, String> NODE_AGENT_ENV = java.util.Map.of("MALLOC_ARENA_MAX", "2");

    private final Process process;
    private final List<String> output = new CopyOnWriteArrayList<>();
    private final BlockingQueue<String> connections = new LinkedBlockingQueue<>();
    private final BlockingQueue<String> readiness = new LinkedBlockingQueue<>();
    private final Thread reader;

    private AgentProcess(Process process, PrintStream echo, String prefix) {
        this.process = process;
        this.reader = Thread.ofPlatform().daemon().name("agent-output").start(() -> pump(echo, prefix));
    }

    /**
     * Starts the agent with {@code args} and waits until it reports ready.
     *
     * @param echo where to copy the agent's output, or null to keep it quiet
     */
    public static AgentProcess start(List<String> args, PrintStream echo, Duration readyTimeout) throws IOException {
        return start(List.of(), args, echo, readyTimeout);
    }

    /** As {@link #start(List, PrintStream, Duration)}, with {@code jvmOptions} (e.g. {@code -Xmx128m}) for the agent's JVM. */
    public static AgentProcess start(List<String> jvmOptions, List<String> args, PrintStream echo, Duration readyTimeout)
            throws IOException {
        ProcessBuilder builder = new ProcessBuilder(command(jvmOptions, args)).redirectErrorStream(true);
        builder.environment().putAll(NODE_AGENT_ENV);
        Process p = builder.start();
        AgentProcess agent = new AgentProcess(p, echo, "  agent | ");
        try {
            long deadline = System.nanoTime() + readyTimeout.toNanos();
            String line = null;
            // Polled in slices: an agent that exits at once (bad arguments) is reported at once.
            while (line == null && System.nanoTime() < deadline && p.isAlive()) {
                line = agent.readiness.poll(100, TimeUnit.MILLISECONDS);
            }
            if (line == null && !p.isAlive()) {
                agent.reader.join(Duration.ofSeconds(5)); // the rest of its output
                line = agent.readiness.poll();
            }
            if (line == null) {
                agent.close();
                throw new IOException("the agent did not report ready within " + readyTimeout.toSeconds()
                        + " s (exit " + (p.isAlive() ? "still running" : p.exitValue()) + "); its output:\n"
                        + String.join("\n", agent.output));
            }
        } catch (InterruptedException e) {
            agent.close();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the agent", e);
        }
        return agent;
    }

    /** The command line that runs the agent with {@code args}: this JVM, this class path. */
    public static List<String> command(List<String> args) {
        return command(List.of(), args);
    }

    /** As {@link #command(List)}, with {@code jvmOptions} (overriding {@link #NODE_AGENT_JVM_FLAGS}) before the class path. */
    public static List<String> command(List<String> jvmOptions, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("--add-exports");
        cmd.add("java.base/sun.nio.ch=ALL-UNNAMED");
        cmd.addAll(NODE_AGENT_JVM_FLAGS);
        if (System.getenv("SHUNT_TC_BPFFS") == null) {
            // The tc technique mounts a bpffs for its pins; ours, not the host's /run/shunt/bpf.
            cmd.add("-Dshunt.tc.bpffs=" + HarnessBpffs.path());
        }
        // After the defaults: for the JVM the last of two conflicting flags wins.
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(MAIN);
        cmd.addAll(args);
        return cmd;
    }

    public long pid() {
        return process.pid();
    }

    /** The next connection line the agent logs (needs --log-connections), or null after {@code timeout}. */
    public String nextConnection(Duration timeout) throws InterruptedException {
        return connections.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    public List<String> output() {
        return List.copyOf(output);
    }

    /**
     * Sends SIGTERM, the signal on which the agent removes its rules, and waits for it to exit.
     *
     * @return the exit code
     */
    public int stop(Duration timeout) throws IOException {
        // Through the handle: Process.destroy() also closes our ends of the pipes at once, and what
        // the agent logs while it cleans up would be lost.
        process.toHandle().destroy();
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                throw new IOException("the agent did not stop within " + timeout.toSeconds()
                        + " s of SIGTERM and was killed; its rules may be left behind");
            }
            reader.join(Duration.ofSeconds(5));
            return process.exitValue();
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while stopping the agent", e);
        }
    }

    /** SIGKILL: the agent gets no chance to clean up, as in a crash or an OOM kill. */
    public void kill() throws IOException {
        process.destroyForcibly();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                throw new IOException("the agent (pid " + process.pid() + ") did not die within 10 s of SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while killing the agent", e);
        }
    }

    @Override
    public void close() throws IOException {
        if (process.isAlive()) {
            stop(Duration.ofSeconds(15));
        }
    }

    private void pump(PrintStream echo, String prefix) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                output.add(line);
                if (echo != null) {
                    echo.println(prefix + line);
                }
                if (line.contains(" connection direction=")) {
                    connections.add(line);
                } else if (line.startsWith(READY)) {
                    readiness.add(line);
                }
            }
        } catch (IOException e) {
            // the process ended; its exit code tells the rest
        }
    }
}
