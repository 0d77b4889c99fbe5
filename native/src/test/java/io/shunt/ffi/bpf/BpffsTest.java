package io.shunt.ffi.bpf;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Mounting a bpffs of our own on a folder we own, and the pin folders under it; /proc/mounts as witness. */
class BpffsTest {

    @Test
    void mountsOnceWhereNoneIsAndUnmountsAgain() throws Exception {
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "shunt-bpffs-");
        try {
            assertFalse(Bpffs.isBpffs(dir));
            assertTrue(Bpffs.ensureMounted(dir), "mounted a bpffs");
            try {
                assertTrue(Bpffs.isBpffs(dir));
                assertTrue(mountLine(dir).contains(" bpf rw") && mountLine(dir).contains("mode=700"), mountLine(dir));
                assertFalse(Bpffs.ensureMounted(dir), "a second call finds the bpffs");

                Path folder = Bpffs.techniqueFolder(dir, "tc");
                assertEquals(dir.resolve("shunt/tc"), folder);
                assertTrue(Files.isDirectory(folder));
                assertTrue(Bpffs.isBpffs(folder));
                IOException inside = assertThrows(IOException.class, () -> Bpffs.unmount(folder));
                assertTrue(inside.getMessage().contains("EINVAL"), "a folder inside is no mount point: " + inside.getMessage());
            } finally {
                Bpffs.unmount(dir);
            }
            assertFalse(Bpffs.isBpffs(dir));
            assertEquals("", mountLine(dir));
        } finally {
            Files.delete(dir);
        }
    }

    @Test
    void refusesWhatIsNotItsToMountOrUnmount() throws Exception {
        Path missing = Path.of("/tmp/shunt-bpffs-missing-" + ProcessHandle.current().pid());
        NoSuchFileException none = assertThrows(NoSuchFileException.class, () -> Bpffs.ensureMounted(missing));
        assertTrue(none.getMessage().contains("create the folder first"), none.getMessage());

        Path file = Files.createTempFile(Path.of("/tmp"), "shunt-bpffs-file-", "");
        try {
            assertThrows(NotDirectoryException.class, () -> Bpffs.ensureMounted(file));
        } finally {
            Files.delete(file);
        }

        IOException notBpffs = assertThrows(IOException.class, () -> Bpffs.unmount(Path.of("/tmp")));
        assertTrue(notBpffs.getMessage().contains("not on a bpffs"), notBpffs.getMessage());
        IOException pinOutside = assertThrows(IOException.class, () -> Bpffs.techniqueFolder(Path.of("/tmp"), "tc"));
        assertTrue(pinOutside.getMessage().contains("is not on a bpffs"), pinOutside.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Bpffs.techniqueFolder(Path.of("/tmp"), "../etc"));
    }

    /** The /proc/mounts line for {@code dir}, or "" when nothing is mounted there. */
    private static String mountLine(Path dir) throws IOException {
        return Files.readAllLines(Path.of("/proc/self/mounts")).stream()
                .filter(l -> l.split(" ")[1].equals(dir.toString())).findFirst().orElse("");
    }
}
