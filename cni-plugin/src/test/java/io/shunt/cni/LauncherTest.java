package io.shunt.cni;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shunt.api.cni.CniRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The generated shunt-cni script, run as a process the way a runtime runs it: empty environment, config on stdin. */
class LauncherTest {
    @TempDir
    static Path bin;
    @TempDir
    static Path jars;
    static Path script;

    @BeforeAll
    static void generate() throws Exception {
        script = InstallLauncher.install(bin, InstallLauncher.defaultJava(), pluginClassPath(), true);
    }

    /**
     * The plugin's runtime class path, found from where its classes were loaded; a classes
     * directory (the build's target/classes) is packed into a jar, as AppCDS archives only jars.
     */
    static List<Path> pluginClassPath() throws IOException {
        List<Path> entries = new ArrayList<>();
        for (Class<?> type : List.of(CniMain.class, CniRequest.class, ObjectMapper.class, JsonParser.class, JsonProperty.class)) {
            Path origin = origin(type);
            Path entry = Files.isDirectory(origin) ? jar(origin) : origin;
            if (!entries.contains(entry)) {
                entries.add(entry);
            }
        }
        return entries;
    }

    private static Path origin(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Path jar(Path classes) throws IOException {
        Path jar = jars.resolve(classes.getParent().getParent().getFileName() + "-" + classes.getFileName() + ".jar");
        if (Files.exists(jar)) {
            return jar;
        }
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
             Stream<Path> files = Files.walk(classes)) {
            for (Path file : files.filter(Files::isRegularFile).sorted().toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(file).toString().replace('\\', '/')));
                Files.copy(file, out);
                out.closeEntry();
            }
        }
        return jar;
    }

    record Exec(int exit, String stdout, String stderr) {
    }

    static Exec exec(Map<String, String> env, String stdin) throws IOException, InterruptedException {
        return exec(script, env, stdin);
    }

    static Exec exec(Path script, Map<String, String> env, String stdin) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(script.toString());
        pb.environment().clear();
        pb.environment().putAll(env);
        Path out = Files.createTempFile(bin, "out", ".txt");
        Path err = Files.createTempFile(bin, "err", ".txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process process = pb.start();
        try (var in = process.getOutputStream()) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the launcher did not exit");
        }
        return new Exec(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    void scriptUsesAbsolutePathsAndTheAppCdsArchive() throws IOException {
        String text = Files.readString(script);
        assertTrue(Files.isExecutable(script), script.toString());
        assertTrue(text.startsWith("#!/bin/sh\n"), text);
        assertTrue(text.contains("exec '" + InstallLauncher.defaultJava().toAbsolutePath() + "'"), text);
        assertTrue(text.contains("-XX:SharedArchiveFile='" + bin.toAbsolutePath().resolve("shunt-cni.jsa") + "'"
                + " -Xshare:auto"), text);
        assertFalse(java.util.regex.Pattern.compile("@[A-Z_]+@").matcher(text).find(), "every placeholder filled in:\n" + text);
        for (Path entry : pluginClassPath()) {
            assertTrue(text.contains(entry.toAbsolutePath().toString()), entry + " in\n" + text);
        }
        assertTrue(Files.size(bin.resolve(InstallLauncher.ARCHIVE)) > 0, "the training run wrote the archive");
    }

    @Test
    void versionRunsWithAnEmptyEnvironment() throws Exception {
        Exec r = exec(Map.of("CNI_COMMAND", "VERSION"), "{\"cniVersion\":\"1.0.0\"}");

        assertEquals(0, r.exit(), r.stdout() + r.stderr());
        JsonNode out = new ObjectMapper().readTree(r.stdout());
        assertEquals("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.4.0\",\"1.0.0\",\"1.1.0\"]}", out.toString());
        assertEquals("", r.stderr(), "nothing from the JVM: no CDS or other warnings");
    }

    @Test
    void addRunsWithOnlyTheCniVariables() throws Exception {
        try (FakeAgent agent = FakeAgent.start(Files.createTempDirectory(bin, "agent"))) {
            String prevResult = "{\"cniVersion\":\"0.4.0\",\"ips\":[{\"version\":\"4\",\"address\":\"10.22.0.9/16\"}]}";
            String config = "{\"cniVersion\":\"0.4.0\",\"name\":\"podman\",\"type\":\"shunt-cni\",\"agentSocket\":\""
                    + agent.socket() + "\",\"prevResult\":" + prevResult + "}";
            Exec r = exec(Map.of("CNI_COMMAND", "ADD", "CNI_CONTAINERID", "feed", "CNI_NETNS", "/proc/1/ns/net",
                    "CNI_IFNAME", "eth0", "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web", "CNI_PATH", "/usr/lib/cni"), config);

            assertEquals(0, r.exit(), r.stdout() + r.stderr());
            assertEquals(prevResult, r.stdout().strip());
            CniRequest sent = agent.onlyRequest();
            assertEquals(List.of("feed", "web", "10.22.0.9/16"), List.of(sent.containerId(), sent.podName(),
                    sent.ips().getFirst()));
        }
    }

    @Test
    void errorsReachStdoutAsJsonWhenRunAsAProcess() throws Exception {
        Exec r = exec(Map.of("CNI_COMMAND", "ADD"), "{\"cniVersion\":");

        assertEquals(1, r.exit(), r.stdout() + r.stderr());
        assertEquals(6, new ObjectMapper().readTree(r.stdout()).path("code").asInt(), r.stdout());
    }

    @Test
    void aBrokenArchiveCostsTimeNotTheResult(@TempDir Path other) throws Exception {
        Path copy = InstallLauncher.install(other, InstallLauncher.defaultJava(), pluginClassPath(), true);
        Path archive = other.resolve(InstallLauncher.ARCHIVE);
        byte[] bytes = Files.readAllBytes(archive);
        Files.write(archive, java.util.Arrays.copyOf(bytes, bytes.length / 3)); // as if a write was cut short

        Exec r = exec(copy, Map.of("CNI_COMMAND", "VERSION"), "{\"cniVersion\":\"1.1.0\"}");

        assertEquals(0, r.exit(), r.stdout() + r.stderr());
        assertEquals("1.1.0", new ObjectMapper().readTree(r.stdout()).path("cniVersion").asText(), r.stdout());
        assertTrue(r.stderr().contains("cds"), "the JVM says why on stderr: " + r.stderr());
    }

    @Test
    void withoutTrainingTheScriptRunsWithoutAnArchive(@TempDir Path other) throws Exception {
        Path copy = InstallLauncher.install(other, InstallLauncher.defaultJava(), pluginClassPath(), false);

        assertFalse(Files.readString(copy).contains("SharedArchiveFile"), Files.readString(copy));
        Exec r = exec(copy, Map.of("CNI_COMMAND", "VERSION"), "");
        assertEquals(0, r.exit(), r.stdout() + r.stderr());
        assertEquals("", r.stderr());
        assertEquals("1.1.0", new ObjectMapper().readTree(r.stdout()).path("cniVersion").asText(), r.stdout());
    }

    @Test
    void trainingRefusesAClassesDirectory(@TempDir Path other) {
        Path classes = origin(CniMain.class);
        assumeTrue(Files.isDirectory(classes), "the plugin runs from a jar here");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> InstallLauncher.install(other, InstallLauncher.defaultJava(), List.of(classes), true));
        assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
    }

    @Test
    void shellQuotingSurvivesOddPaths() throws Exception {
        String odd = "/tmp/it's a \"dir\" $HOME `x`";
        Process p = new ProcessBuilder("/bin/sh", "-c", "printf %s " + InstallLauncher.shellQuote(odd)).start();
        String printed = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(odd, printed);
    }
}
