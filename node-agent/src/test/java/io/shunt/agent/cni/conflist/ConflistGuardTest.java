package io.shunt.agent.cni.conflist;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConflistGuardTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Far longer than any test: a repair seen within the test came from the change notification. */
    private static final Duration NO_RECHECK = Duration.ofHours(1);

    @TempDir
    Path root;

    @Test
    void putsShuntBackWhenThePrimaryCniReplacesItsConflist() throws Exception {
        Path dir = Files.createDirectories(root.resolve("net.d"));
        Path file = Files.writeString(dir.resolve("10-podnet.conflist"), ConflistInstallerTest.PRIMARY);
        ConflistInstaller installer = new ConflistInstaller(dir, Optional.empty(), root.resolve("backup"),
                new ChainEntry(Path.of("/run/shunt/cni.sock")));
        try (ConflistGuard guard = ConflistGuard.start(installer, NO_RECHECK)) {
            assertTrue(chainsShunt(file), "chained at start");

            // The way most CNI installers write: a new file renamed over the old one.
            Path tmp = Files.writeString(dir.resolve("tmp-write"), ConflistInstallerTest.PRIMARY);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            awaitChained(file);

            // And the way some others do: truncate and write in place.
            Files.writeString(file, ConflistInstallerTest.PRIMARY);
            awaitChained(file);
            // Its own write wakes the guard too; that look must find nothing to do, not loop.
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (guard.state().kind() != ConflistState.Kind.PRESENT && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(ConflistState.Kind.PRESENT, guard.state().kind());
        }
    }

    @Test
    void chainsTheFirstConfigurationOnceThePrimaryCniWritesIt() throws Exception {
        Path dir = root.resolve("net.d"); // not even there yet
        ConflistInstaller installer = new ConflistInstaller(dir, Optional.empty(), root.resolve("backup"),
                new ChainEntry(Path.of("/run/shunt/cni.sock")));
        try (ConflistGuard guard = ConflistGuard.start(installer, NO_RECHECK)) {
            assertEquals(ConflistState.Kind.NO_PRIMARY, guard.state().kind());

            Path file = Files.writeString(dir.resolve("10-podnet.conflist"), ConflistInstallerTest.PRIMARY);
            awaitChained(file);
        }
    }

    private static void awaitChained(Path file) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!chainsShunt(file)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("shunt-cni was not chained back into " + file + " within 10 s:\n"
                        + Files.readString(file));
            }
            Thread.sleep(20);
        }
    }

    private static boolean chainsShunt(Path file) throws IOException {
        try {
            var plugins = JSON.readTree(file.toFile()).get("plugins");
            return plugins != null && !plugins.isEmpty()
                    && "shunt-cni".equals(plugins.get(plugins.size() - 1).path("type").asText());
        } catch (IOException e) {
            return false; // read mid-write
        }
    }
}
