package io.shunt.agent.cni.conflist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConflistInstallerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String PRIMARY = """
            {
              "cniVersion": "1.0.0",
              "name": "podnet",
              "x-vendor": {"keep": [1, 2.50, "me"]},
              "plugins": [
                {"type": "bridge", "bridge": "cni0", "isGateway": false, "ipMasq": false,
                 "ipam": {"type": "host-local", "subnet": "10.22.0.0/16"}},
                {"type": "portmap", "capabilities": {"portMappings": true}}
              ]
            }
            """;

    @TempDir
    Path root;
    Path dir;
    Path backups;
    ConflistInstaller installer;

    @BeforeEach
    void dirs() throws IOException {
        dir = Files.createDirectories(root.resolve("net.d"));
        backups = root.resolve("backup");
        installer = installer(Optional.empty(), "/run/shunt/cni.sock");
    }

    private ConflistInstaller installer(Optional<String> pinned, String socket) {
        return new ConflistInstaller(dir, pinned, backups, new ChainEntry(Path.of(socket)));
    }

    @Test
    void appendsShuntLastKeepingEverythingElseAndBacksUpTheOriginal() throws IOException {
        Path file = write("10-podnet.conflist", PRIMARY);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r-----"));

        ConflistState state = installer.ensure();

        assertEquals(ConflistState.Kind.CHAINED, state.kind());
        assertEquals(Optional.of(file), state.file());
        JsonNode chained = read(file);
        JsonNode original = JSON.readTree(PRIMARY);
        assertEquals(3, chained.get("plugins").size());
        assertEquals(original.get("plugins").get(0), chained.get("plugins").get(0));
        assertEquals(original.get("plugins").get(1), chained.get("plugins").get(1));
        assertEquals(JSON.readTree("{\"type\":\"shunt-cni\",\"agentSocket\":\"/run/shunt/cni.sock\"}"),
                chained.get("plugins").get(2));
        assertEquals(original.get("x-vendor"), chained.get("x-vendor"));
        assertEquals("1.0.0", chained.get("cniVersion").asText());
        assertEquals(PRIMARY, Files.readString(backups.resolve("10-podnet.conflist")));
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(List.of(file), list(dir), "no temporary file may be left where the runtime looks");
    }

    @Test
    void writesNothingWhenShuntIsChainedAlready() throws IOException {
        Path file = write("10-podnet.conflist", PRIMARY);
        installer.ensure();
        Object inode = Files.getAttribute(file, "unix:ino");
        byte[] chained = Files.readAllBytes(file);

        ConflistState again = installer.ensure();

        assertEquals(ConflistState.Kind.PRESENT, again.kind());
        assertEquals(inode, Files.getAttribute(file, "unix:ino"), "an unchanged file must not be replaced");
        assertEquals(new String(chained), Files.readString(file));
    }

    @Test
    void repairsAFileThePrimaryCniRewroteAndKeepsTheFirstBackup() throws IOException {
        Path file = write("10-podnet.conflist", PRIMARY);
        installer.ensure();
        String rewritten = PRIMARY.replace("10.22.0.0/16", "10.23.0.0/16");
        write("10-podnet.conflist", rewritten);

        ConflistState state = installer.ensure();

        assertEquals(ConflistState.Kind.CHAINED, state.kind());
        JsonNode chained = read(file);
        assertEquals("10.23.0.0/16", chained.at("/plugins/0/ipam/subnet").asText(), "the primary's change is kept");
        assertEquals("shunt-cni", chained.at("/plugins/2/type").asText());
        assertEquals(rewritten, Files.readString(backups.resolve("10-podnet.conflist")),
                "the backup is the primary's newest own version");
    }

    @Test
    void replacesAnEntryForAnotherSocketInsteadOfAddingASecond() throws IOException {
        Path file = write("10-podnet.conflist", PRIMARY);
        installer(Optional.empty(), "/run/old/cni.sock").ensure();

        assertEquals(ConflistState.Kind.CHAINED, installer.ensure().kind());

        JsonNode plugins = read(file).get("plugins");
        assertEquals(3, plugins.size());
        assertEquals("/run/shunt/cni.sock", plugins.get(2).get("agentSocket").asText());
        assertEquals(PRIMARY, Files.readString(backups.resolve("10-podnet.conflist")),
                "replacing Shunt's own entry does not overwrite the primary's backup");
    }

    @Test
    void choosesTheFirstConfigurationByNameAsTheRuntimeDoes() throws IOException {
        Path second = write("20-other.conflist", PRIMARY.replace("podnet", "other"));
        Path first = write("10-podnet.conflist", PRIMARY);
        write(".hidden.conflist", PRIMARY);
        write("05-notes.txt", "not a config");

        installer.ensure();

        assertEquals("shunt-cni", read(first).at("/plugins/2/type").asText());
        assertEquals(2, read(second).get("plugins").size());
    }

    @Test
    void chainsThePinnedFileInstead() throws IOException {
        Path first = write("10-podnet.conflist", PRIMARY);
        Path pinned = write("20-other.conflist", PRIMARY.replace("podnet", "other"));

        installer(Optional.of("20-other.conflist"), "/run/shunt/cni.sock").ensure();

        assertEquals(2, read(first).get("plugins").size());
        assertEquals("shunt-cni", read(pinned).at("/plugins/2/type").asText());
    }

    @Test
    void turnsASinglePluginConfIntoAConflistOfTheSameName() throws IOException {
        String single = """
                {"cniVersion": "0.4.0", "name": "podnet", "type": "bridge", "bridge": "cni0",
                 "ipam": {"type": "host-local", "subnet": "10.22.0.0/16"}}
                """;
        write("10-podnet.conf", single);

        ConflistState state = installer.ensure();

        Path list = dir.resolve("10-podnet.conflist");
        assertEquals(Optional.of(list), state.file());
        assertEquals(List.of(list), list(dir), "the .conf would sort first and win, so it must go");
        JsonNode chained = read(list);
        assertEquals("0.4.0", chained.get("cniVersion").asText());
        assertEquals("podnet", chained.get("name").asText());
        assertEquals(JSON.readTree(single), chained.at("/plugins/0"));
        assertEquals("shunt-cni", chained.at("/plugins/1/type").asText());
        assertEquals(single, Files.readString(backups.resolve("10-podnet.conf")));
        assertEquals(ConflistState.Kind.PRESENT, installer.ensure().kind());
    }

    @Test
    void leavesAnUnreadableFileAloneAndSaysWhy() throws IOException {
        Path file = write("10-podnet.conflist", "{\"cniVersion\": \"1.0.0\", \"plugins\": [");

        ConflistState state = installer.ensure();

        assertEquals(ConflistState.Kind.INVALID, state.kind());
        assertTrue(state.detail().contains("10-podnet.conflist is not JSON"), state.detail());
        assertEquals("{\"cniVersion\": \"1.0.0\", \"plugins\": [", Files.readString(file));
        assertFalse(Files.exists(backups));
    }

    @Test
    void refusesAConflistWithoutPlugins() throws IOException {
        write("10-podnet.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": \"x\"}");

        ConflistState state = installer.ensure();

        assertEquals(ConflistState.Kind.INVALID, state.kind());
        assertTrue(state.detail().contains("without a \"plugins\" array"), state.detail());
    }

    @Test
    void waitsForAPrimaryConfiguration() throws IOException {
        ConflistState state = installer.ensure();

        assertEquals(ConflistState.Kind.NO_PRIMARY, state.kind());
        assertEquals(List.of(), list(dir));
    }

    @Test
    void uninstallRemovesOnlyShuntAndTheBackups() throws IOException {
        Path file = write("10-podnet.conflist", PRIMARY);
        installer.ensure();

        List<Path> rewritten = installer.uninstall();

        assertEquals(List.of(file), rewritten);
        assertEquals(JSON.readTree(PRIMARY), read(file));
        assertFalse(Files.exists(backups));
        assertEquals(List.of(), installer.chaining());
        assertEquals(List.of(), installer.uninstall(), "a second uninstall has nothing to do");
    }

    @Test
    void refusesAPinnedNameThatIsNotAConfigFile() {
        assertThrows(IllegalArgumentException.class, () -> installer(Optional.of("../etc/passwd"), "/run/s.sock"));
        assertThrows(IllegalArgumentException.class, () -> installer(Optional.of("10-podnet.txt"), "/run/s.sock"));
        assertThrows(IllegalArgumentException.class, () -> new ChainEntry(Path.of("relative.sock")));
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content);
    }

    private static JsonNode read(Path file) throws IOException {
        return JSON.readTree(file.toFile());
    }

    static List<Path> list(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }
}
