package io.shunt.ffi.bpf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A cgroup v2 group of the test's own, {@code shunt-ut-<purpose>-<pid>} directly under the cgroup2
 * mount; on close removed (it must be empty by then) and checked gone.
 */
final class TestCgroup implements AutoCloseable {
    final Path dir;

    TestCgroup(String purpose) throws IOException {
        dir = cgroup2Mount().resolve("shunt-ut-" + purpose + "-" + ProcessHandle.current().pid());
        Files.createDirectory(dir);
    }

    /** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup/unified on this hybrid host). */
    static Path cgroup2Mount() throws IOException {
        // /proc/self/mountinfo: id parent major:minor root mountpoint options ... - fstype source superoptions
        List<String> lines = Files.readAllLines(Path.of("/proc/self/mountinfo"));
        for (String line : lines) {
            String[] halves = line.split(" - ", 2);
            if (halves.length == 2 && halves[1].startsWith("cgroup2 ")) {
                return Path.of(halves[0].split(" ")[4]);
            }
        }
        throw new IOException("no cgroup2 mount in /proc/self/mountinfo");
    }

    @Override
    public void close() throws IOException {
        // a process that just exited may still be counted for a moment
        for (int attempt = 0; ; attempt++) {
            try {
                Files.delete(dir);
                break;
            } catch (IOException e) {
                if (attempt == 50) {
                    throw new IOException("cannot remove test cgroup " + dir + ": " + e, e);
                }
                sleep();
            }
        }
        if (Files.exists(dir)) {
            throw new IOException("test cgroup " + dir + " still exists");
        }
    }

    private static void sleep() throws IOException {
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while removing a test cgroup", e);
        }
    }
}
