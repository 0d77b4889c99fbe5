package io.shunt.kerneltests;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Debian's podman 4 (CNI backend, runc) confined to one test directory: its containers.conf and
 * storage.conf are the test's own, so its storage, locks, events, runc state and CNI networks all
 * live under that directory and nothing lands in /var/lib/containers, /run/containers, /run/libpod
 * or /run/runc. It runs inside the test's node namespace ({@code nsenter --net}), so the bridge
 * its CNI plugins create is the test's too.
 *
 * <p>Two places stay global, as with any CNI runtime: podman's container netns lives in
 * /run/netns/cni-*, and libcni caches results in /var/lib/cni/results/&lt;network&gt;-*.
 */
final class Podman {
    /** podman 4.3 needs 0.3-0.6 s per call here; anything near this is stuck. */
    private static final Duration CALL_LIMIT = Duration.ofSeconds(60);
    private static final Path BUSYBOX = Path.of("/bin/busybox");
    /** What the containers run; copied into the rootfs as symlinks to busybox. */
    private static final List<String> APPLETS = List.of("sh", "nc", "sleep", "cat", "mv", "echo", "ls");
    static final Path CNI_RESULTS = Path.of("/var/lib/cni/results");

    private final Path dir;
    private final String nodeNs;
    private final String network;
    private final Path podman;
    private final AtomicInteger calls = new AtomicInteger();

    record Result(List<String> argv, int exit, String stdout, String stderr) {
        Result requireSuccess() {
            if (exit != 0) {
                throw new AssertionError("`" + String.join(" ", argv) + "` exited with " + exit + "\nstdout: " + stdout
                        + "\nstderr: " + stderr);
            }
            return this;
        }
    }

    private Podman(Path dir, String nodeNs, String network, Path podman) {
        this.dir = dir;
        this.nodeNs = nodeNs;
        this.network = network;
        this.podman = podman;
    }

    /**
     * Why podman cannot run a container here, or empty when it can: podman 4 with its CNI backend
     * (podman 5 dropped it), runc, conmon, nsenter and busybox-static.
     */
    static Optional<String> unavailable() {
        for (String tool : List.of("podman", "runc", "conmon", "nsenter")) {
            if (which(tool).isEmpty()) {
                return Optional.of(tool + " is not installed (scripts/setup installs podman, runc and busybox-static)");
            }
        }
        if (!Files.isExecutable(BUSYBOX)) {
            return Optional.of(BUSYBOX + " is missing: the container's rootfs is built from busybox-static");
        }
        try {
            Process p = new ProcessBuilder(which("podman").orElseThrow().toString(), "--version").redirectErrorStream(true).start();
            String version = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0 || !version.matches("podman version 4\\..*")) {
                return Optional.of("the podman test needs podman 4 with its CNI backend, found '" + version + "'");
            }
        } catch (IOException e) {
            return Optional.of("cannot run podman --version: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of("interrupted while asking podman for its version");
        }
        return Optional.empty();
    }

    /**
     * Writes podman's configuration into {@code dir} and one CNI network, {@code network}, chaining
     * {@code plugins} (found in {@code pluginDirs}); podman runs inside {@code nodeNs}.
     */
    static Podman create(Path dir, String nodeNs, String network, List<ObjectNode> plugins, List<Path> pluginDirs)
            throws IOException {
        Path podman = which("podman").orElseThrow(() -> new IOException("podman is not on PATH"));
        Path runc = which("runc").orElseThrow(() -> new IOException("runc is not on PATH"));
        Path networks = Files.createDirectories(dir.resolve("networks"));
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        Path storage = dir.resolve("storage");

        // podman has no setting for runc's state directory (/run/runc by default): a wrapper moves it.
        Path runcWrapper = Files.createDirectories(dir.resolve("bin")).resolve("runc");
        Files.writeString(runcWrapper, "#!/bin/sh\nexec " + sh(runc.toString()) + " --root " + sh(runcRoot(dir).toString())
                + " \"$@\"\n");
        Files.setPosixFilePermissions(runcWrapper, PosixFilePermissions.fromString("rwx------"));

        ObjectNode conflist = CniRuntime.JSON.createObjectNode().put("cniVersion", "1.0.0").put("name", network);
        conflist.putArray("plugins").addAll(plugins);
        Files.writeString(networks.resolve(network + ".conflist"), CniRuntime.JSON.writeValueAsString(conflist));

        Files.writeString(dir.resolve("storage.conf"), """
                [storage]
                driver = "vfs"
                graphroot = %s
                runroot = %s
                """.formatted(toml(storage), toml(dir.resolve("run"))));
        // Root lacks CAP_SYS_RESOURCE here, so the default ulimits (nofile 1048576) would fail in runc;
        // cgroupfs/file events/file locks because no systemd runs here.
        Files.writeString(dir.resolve("containers.conf"), """
                [containers]
                default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

                [network]
                network_backend = "cni"
                network_config_dir = %s
                cni_plugin_dirs = %s
                default_network = %s

                [engine]
                cgroup_manager = "cgroupfs"
                events_logger = "file"
                events_logfile_path = %s
                lock_type = "file"
                runtime = "runc"
                static_dir = %s
                tmp_dir = %s
                volume_path = %s

                [engine.runtimes]
                runc = [%s]
                """.formatted(toml(networks), tomlArray(pluginDirs), toml(network), toml(tmp.resolve("events.log")),
                toml(storage.resolve("libpod")), toml(tmp), toml(storage.resolve("volumes")), toml(runcWrapper)));
        return new Podman(dir, nodeNs, network, podman);
    }

    /**
     * A rootfs made of busybox-static and symlinks to it, plus the directories runc mounts over;
     * run with {@code --rootfs DIR:O} so podman's writes (/etc/hosts, ...) go to an overlay.
     */
    static Path busyboxRootfs(Path dir) throws IOException {
        Path rootfs = dir.resolve("rootfs");
        for (String d : List.of("bin", "etc", "proc", "sys", "dev", "tmp", "run")) {
            Files.createDirectories(rootfs.resolve(d));
        }
        Files.copy(BUSYBOX, rootfs.resolve("bin/busybox"));
        for (String applet : APPLETS) {
            Files.createSymbolicLink(rootfs.resolve("bin").resolve(applet), Path.of("busybox"));
        }
        return rootfs;
    }

    static Path runcRoot(Path dir) {
        return dir.resolve("runc");
    }

    /** Runs {@code podman args...} in the node namespace; output goes through files, never pipes a detached conmon could hold open. */
    Result run(String... args) throws IOException {
        List<String> argv = new ArrayList<>(List.of("nsenter", "--net=/var/run/netns/" + nodeNs, podman.toString()));
        argv.addAll(List.of(args));
        int n = calls.incrementAndGet();
        Path out = dir.resolve("podman-" + n + ".out");
        Path err = dir.resolve("podman-" + n + ".err");
        ProcessBuilder pb = new ProcessBuilder(argv).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        pb.environment().put("CONTAINERS_CONF", dir.resolve("containers.conf").toString());
        pb.environment().put("CONTAINERS_STORAGE_CONF", dir.resolve("storage.conf").toString());
        pb.environment().put("TMPDIR", dir.resolve("tmp").toString());
        Process p = pb.start();
        try {
            if (!p.waitFor(CALL_LIMIT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                throw new IOException("`" + String.join(" ", argv) + "` did not finish within " + CALL_LIMIT.toSeconds()
                        + " s; stderr so far: " + Files.readString(err));
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + argv, e);
        }
        return new Result(argv, p.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** libcni's cached results of this network: podman's DEL removes them. */
    List<Path> cachedResults() throws IOException {
        if (!Files.isDirectory(CNI_RESULTS)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(CNI_RESULTS)) {
            return files.filter(f -> f.getFileName().toString().startsWith(network + "-")).toList();
        }
    }

    /** The containers runc still keeps state for, in this test's runc root or in the default one. */
    static List<Path> runcState(Path dir, String containerId) {
        return Stream.of(runcRoot(dir).resolve(containerId), Path.of("/run/runc", containerId)).filter(Files::exists).toList();
    }

    private static Optional<Path> which(String tool) {
        String path = System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin";
        return Stream.of(path.split(":")).filter(s -> !s.isEmpty()).map(d -> Path.of(d, tool))
                .filter(Files::isExecutable).findFirst();
    }

    private static String sh(String value) {
        return "'" + value.replace("'", "'\\''") + "'";
    }

    /** A TOML basic string; a JSON string is one for the paths used here. */
    private static String toml(Object value) {
        try {
            return CniRuntime.JSON.writeValueAsString(value.toString());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static String tomlArray(List<Path> values) {
        ArrayNode array = CniRuntime.JSON.createArrayNode();
        values.forEach(v -> array.add(v.toString()));
        return array.toString();
    }
}
