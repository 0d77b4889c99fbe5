package io.shunt.testbed;

import io.shunt.ffi.bpf.Bpffs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Random;

/**
 * The bpffs folder every agent this JVM starts (demo, benchmarks) pins its tc objects under: a
 * temporary folder of our own, so no run leaves a mount on the host's {@code /run/shunt/bpf}.
 * Agents of one JVM share it, so a restarted agent finds its predecessor's pins. The agent mounts
 * it on first use; it is unmounted and deleted when this JVM exits.
 */
final class HarnessBpffs {
    private static Path path;

    private HarnessBpffs() {
    }

    static synchronized Path path() {
        if (path == null) {
            path = Path.of(System.getProperty("java.io.tmpdir"),
                    "shunt-agents-bpffs-" + HexFormat.of().toHexDigits(new Random().nextInt()));
            Runtime.getRuntime().addShutdownHook(new Thread(HarnessBpffs::remove, "shunt-bpffs-cleanup"));
        }
        return path;
    }

    private static void remove() {
        try {
            if (Files.isDirectory(path) && Bpffs.isBpffs(path)) {
                Bpffs.unmount(path);
            }
            Files.deleteIfExists(path);
        } catch (IOException | RuntimeException e) {
            System.err.println("shunt: could not remove the agents' bpffs at " + path + ": " + e.getMessage()
                    + " (remove it with: umount " + path + "; rmdir " + path + ")");
        }
    }
}
