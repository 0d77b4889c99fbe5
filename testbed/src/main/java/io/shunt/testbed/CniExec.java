package io.shunt.testbed;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Calls a CNI plugin the way a container runtime does: exec'd directly, with the CNI_* variables
 * and PATH as its whole environment, the network configuration on stdin and the result on stdout.
 * Each call is timed from just before the exec to the plugin's exit, so JVM start-up is included.
 *
 * <p>stdout and stderr go to files in {@code scratch} rather than pipes: nothing has to drain them
 * while the plugin runs, so the timing holds no reader threads of ours.
 */
public final class CniExec {
    private static final String PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

    private final Path plugin;
    private final String cniPath;
    private final Path stdout;
    private final Path stderr;

    /** One call's outcome; {@code nanos} runs from exec to exit. */
    public record Result(int exit, String stdout, String stderr, long nanos) {
    }

    /**
     * @param plugin  the plugin executable
     * @param scratch a directory of the caller's for the output files; calls overwrite them, so
     *                one {@code CniExec} runs one call at a time
     */
    public CniExec(Path plugin, Path scratch) {
        this.plugin = plugin;
        this.cniPath = plugin.toAbsolutePath().getParent().toString();
        this.stdout = scratch.resolve("cni-stdout");
        this.stderr = scratch.resolve("cni-stderr");
    }

    /**
     * Runs one command ({@code ADD}, {@code DEL}, {@code VERSION}, ...) for {@code containerId}.
     *
     * @param netns   CNI_NETNS, or null to leave it unset (VERSION)
     * @param cniArgs CNI_ARGS, e.g. {@code IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=name}
     * @throws IOException when the plugin cannot be started or has not exited after {@code timeout}
     */
    public synchronized Result call(String command, String containerId, Path netns, String cniArgs, String config,
                                    Duration timeout) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(plugin.toString())
                .redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("PATH", PATH);
        env.put("CNI_COMMAND", command);
        env.put("CNI_CONTAINERID", containerId);
        if (netns != null) {
            env.put("CNI_NETNS", netns.toString());
        }
        env.put("CNI_IFNAME", "eth0");
        env.put("CNI_ARGS", cniArgs);
        env.put("CNI_PATH", cniPath);
        byte[] input = config.getBytes(StandardCharsets.UTF_8);
        long start = System.nanoTime();
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new IOException("cannot exec the CNI plugin " + plugin + ": " + e.getMessage()
                    + " — is it installed and executable?", e);
        }
        try {
            try (OutputStream in = process.getOutputStream()) {
                in.write(input);
            } catch (IOException e) {
                // The plugin exited without reading its config (a broken pipe): its exit status and stderr say why.
            }
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                throw new IOException("CNI " + command + " of container " + containerId + " (" + plugin
                        + ") did not exit within " + timeout.toSeconds() + " s and was killed; its stderr: "
                        + read(stderr).strip());
            }
            long nanos = System.nanoTime() - start;
            return new Result(process.exitValue(), read(stdout), read(stderr), nanos);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted during CNI " + command + " of container " + containerId, e);
        }
    }

    private static String read(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    }
}
