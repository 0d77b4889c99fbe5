package io.shunt.cni;

import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniWire;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Writes the {@code shunt-cni} executable into a CNI plugin directory: a shell script with absolute
 * paths to java and to the plugin's class path, filled in from {@code shunt-cni.template}.
 *
 * <p>It also trains the script's dynamic AppCDS archive: one ADD against a throwaway agent, run
 * with {@code -XX:ArchiveClassesAtExit}, so the archive holds the classes of the call that matters
 * (pod start-up). The script itself only maps the archive ({@code -XX:SharedArchiveFile
 * -Xshare:auto}) and never writes one: with {@code -XX:+AutoCreateSharedArchive} a JVM that fails
 * to write the archive at exit (read-only directory, full disk) exits with status 1 after the
 * plugin printed its result, and concurrent pod starts would race to write the same file.
 *
 * <pre>
 * java -cp "cni-plugin/target/shunt-cni-plugin-VERSION.jar:cni-plugin/target/lib/*" \
 *     io.shunt.cni.InstallLauncher /opt/cni/bin [--java PATH] [--classpath CP] [--no-train]
 * </pre>
 * Without {@code --java} the script runs the JVM that runs the installer; without
 * {@code --classpath} it uses the installer's own class path. Run it again after a JDK upgrade.
 */
public final class InstallLauncher {
    public static final String SCRIPT = "shunt-cni";
    public static final String ARCHIVE = "shunt-cni.jsa";
    private static final String TEMPLATE = "shunt-cni.template";
    private static final Duration TRAINING_LIMIT = Duration.ofSeconds(60);

    private InstallLauncher() {
    }

    public static void main(String[] args) {
        Path dir = null;
        Path java = defaultJava();
        List<Path> classPath = null;
        boolean train = true;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--java" -> java = Path.of(value(args, ++i, "--java"));
                    case "--classpath", "-cp" -> classPath = parseClassPath(value(args, ++i, args[i - 1]));
                    case "--no-train" -> train = false;
                    case "-h", "--help" -> {
                        System.out.println(usage());
                        return;
                    }
                    default -> {
                        if (args[i].startsWith("-") || dir != null) {
                            throw new IllegalArgumentException("unexpected argument " + args[i]);
                        }
                        dir = Path.of(args[i]);
                    }
                }
            }
            if (dir == null) {
                throw new IllegalArgumentException("missing the directory to write " + SCRIPT + " into");
            }
            if (classPath == null) {
                classPath = parseClassPath(System.getProperty("java.class.path"));
            }
            Path script = install(dir, java, classPath, train);
            System.out.println("wrote " + script + " (java " + java.toAbsolutePath() + ", " + classPath.size()
                    + " class path entries)");
            Path archive = script.resolveSibling(ARCHIVE);
            System.out.println(train ? "trained " + archive + " (" + Files.size(archive) / 1024
                    + " KiB) with one ADD against a throwaway agent" : "no AppCDS archive (--no-train)");
        } catch (IllegalArgumentException e) {
            System.err.println("install-launcher: " + e.getMessage());
            System.err.println(usage());
            System.exit(2);
        } catch (IOException | UncheckedIOException e) {
            System.err.println("install-launcher: " + e.getMessage());
            System.exit(1);
        }
    }

    /**
     * Writes {@code dir/shunt-cni} (atomically, mode 755) and, with {@code train}, its AppCDS archive
     * {@code dir/shunt-cni.jsa} first (also atomically), so a new script always finds its archive.
     *
     * @param java      the java executable; made absolute
     * @param classPath the plugin's class path (its jar, shunt-api, Jackson); made absolute. Training
     *                  needs jars: AppCDS refuses a non-empty directory on the class path
     * @param train     whether to train the archive; without, the script runs without AppCDS
     * @return the script
     * @throws IllegalArgumentException for a java that is not executable or a missing class path entry
     * @throws IOException              when writing fails or the training run fails
     */
    public static Path install(Path dir, Path java, List<Path> classPath, boolean train) throws IOException {
        Path javaExe = java.toAbsolutePath().normalize();
        if (!Files.isRegularFile(javaExe) || !Files.isExecutable(javaExe)) {
            throw new IllegalArgumentException("--java " + javaExe + " is not an executable file");
        }
        if (classPath.isEmpty()) {
            throw new IllegalArgumentException("the class path is empty");
        }
        List<Path> entries = new ArrayList<>();
        for (Path entry : classPath) {
            Path absolute = entry.toAbsolutePath().normalize();
            if (!Files.exists(absolute)) {
                throw new IllegalArgumentException("class path entry " + absolute + " does not exist");
            }
            if (train && Files.isDirectory(absolute)) {
                throw new IllegalArgumentException("class path entry " + absolute + " is a directory; AppCDS"
                        + " archives only classes from jars (package the plugin, or pass --no-train)");
            }
            entries.add(absolute);
        }
        Files.createDirectories(dir);
        Path target = dir.toAbsolutePath().normalize();
        Path archive = target.resolve(ARCHIVE);
        String template = template();
        if (train) {
            train(template, javaExe, entries, archive);
        } else {
            // An archive for another class path or JDK would only be rejected at each start.
            Files.deleteIfExists(archive);
        }
        String cds = train ? "-XX:SharedArchiveFile=" + shellQuote(archive.toString()) + " -Xshare:auto" : "-Xshare:auto";
        writeAtomically(target.resolve(SCRIPT), render(template, javaExe, cds, entries));
        return target.resolve(SCRIPT);
    }

    /** Fills in the template: paths are quoted for sh, {@code cdsFlags} goes in as given. */
    static String render(String template, Path java, String cdsFlags, List<Path> classPath) {
        String joined = String.join(":", classPath.stream().map(Path::toString).toList());
        return template.replace("@JAVA@", shellQuote(java.toString()))
                .replace("@CDS_FLAGS@", cdsFlags)
                .replace("@CLASSPATH@", shellQuote(joined));
    }

    static String shellQuote(String value) {
        return "'" + value.replace("'", "'\\''") + "'";
    }

    /**
     * Runs a training copy of the script, which dumps the archive at exit, for one ADD against a
     * throwaway agent with an empty environment as a runtime would; then moves the archive into place.
     */
    private static void train(String template, Path java, List<Path> classPath, Path archive) throws IOException {
        Path dir = Files.createTempDirectory("shunt-cni-train");
        Path socket = dir.resolve("agent.sock");
        Path dumped = dir.resolve(ARCHIVE);
        Path script = dir.resolve(SCRIPT);
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            Files.writeString(script, render(template, java, "-XX:ArchiveClassesAtExit=" + shellQuote(dumped.toString()),
                    classPath), StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread.ofPlatform().daemon().name("shunt-cni-training-agent").start(() -> answer(server));
            String config = """
                    {"cniVersion":"1.1.0","name":"shunt-cni-training","type":"shunt-cni","agentSocket":"%s",\
                    "timeoutSeconds":%d,"prevResult":{"cniVersion":"1.1.0",\
                    "interfaces":[{"name":"eth0","sandbox":"/var/run/netns/shunt-cni-training"}],\
                    "ips":[{"address":"10.255.0.2/24","interface":0}]}}""".formatted(socket, TRAINING_LIMIT.toSeconds());
            ProcessBuilder pb = new ProcessBuilder(script.toString());
            pb.environment().clear();
            pb.environment().putAll(Map.of("CNI_COMMAND", "ADD", "CNI_CONTAINERID", "shunt-cni-training",
                    "CNI_NETNS", "/var/run/netns/shunt-cni-training", "CNI_IFNAME", "eth0",
                    "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=shunt;K8S_POD_NAME=training", "CNI_PATH", "/opt/cni/bin"));
            Path log = dir.resolve("output");
            pb.redirectErrorStream(true).redirectOutput(log.toFile());
            Process process = pb.start();
            try (var in = process.getOutputStream()) {
                in.write(config.getBytes(StandardCharsets.UTF_8));
            }
            if (!process.waitFor(TRAINING_LIMIT.toSeconds() + 10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException("the AppCDS training run of " + SCRIPT + " did not finish within " + TRAINING_LIMIT);
            }
            String output = Files.readString(log);
            if (process.exitValue() != 0 || !Files.isRegularFile(dumped)) {
                throw new IOException("the AppCDS training run of " + SCRIPT + " (one ADD) failed with status "
                        + process.exitValue() + (Files.isRegularFile(dumped) ? "" : " and wrote no archive")
                        + "; its output:\n" + output);
            }
            // Rename within the target directory: plugins that start meanwhile see the old archive or the new one.
            Path staged = Files.createTempFile(archive.getParent(), "." + ARCHIVE, ".tmp");
            try {
                Files.copy(dumped, staged, StandardCopyOption.REPLACE_EXISTING);
                Files.move(staged, archive, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(staged);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while training the AppCDS archive of " + SCRIPT, e);
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static void writeAtomically(Path file, String content) throws IOException {
        Path temp = Files.createTempFile(file.getParent(), "." + file.getFileName(), ".tmp");
        try {
            Files.writeString(temp, content, StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /** The throwaway agent: says yes to every request until its socket closes. */
    private static void answer(ServerSocketChannel server) {
        while (server.isOpen()) {
            try (SocketChannel client = server.accept()) {
                CniWire.read(Channels.newInputStream(client), CniRequest.class);
                CniWire.write(Channels.newOutputStream(client), CniReply.success("training"));
            } catch (IOException e) {
                if (!server.isOpen()) {
                    return;
                }
            }
        }
    }

    static Path defaultJava() {
        return Path.of(System.getProperty("java.home"), "bin", "java");
    }

    static List<Path> parseClassPath(String classPath) {
        List<Path> entries = new ArrayList<>();
        for (String entry : classPath.split(java.io.File.pathSeparator)) {
            if (!entry.isBlank()) {
                entries.add(Path.of(entry));
            }
        }
        return entries;
    }

    private static String template() throws IOException {
        try (InputStream in = InstallLauncher.class.getResourceAsStream(TEMPLATE)) {
            if (in == null) {
                throw new IOException(TEMPLATE + " is missing from the class path next to " + InstallLauncher.class.getName());
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static String usage() {
        return "usage: java -cp \"<shunt-cni-plugin jar>:<its lib dir>/*\" " + InstallLauncher.class.getName()
                + " DIR [--java PATH] [--classpath CP] [--no-train]\n"
                + "  writes DIR/" + SCRIPT + " (the CNI plugin executable) and trains DIR/" + ARCHIVE;
    }
}
