package io.shunt.testbed;

import io.shunt.hijack.probe.MountInfo;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A cgroup v2 group the testbed creates for "pods" and agents of the sockmap technique, whose
 * programs attach to cgroups: the benchmarks and tests attach only to groups of their own, never
 * to one they found. Created directly under the hierarchy's root and removed on {@link #close}.
 *
 * <p>{@link #enter()} moves this JVM (every thread) into the group, so its sockets and the
 * processes it starts from then on belong to it; closing what it returns moves the JVM back.
 */
public final class ScratchCgroup implements AutoCloseable {
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    private final Path dir;

    private ScratchCgroup(Path dir) {
        this.dir = dir;
    }

    /** A new group {@code <cgroup2 mount>/<prefix>-<pid>-<n>}. */
    public static ScratchCgroup create(String prefix) throws IOException {
        Path dir = mount().resolve(prefix + "-" + ProcessHandle.current().pid() + "-" + SEQUENCE.incrementAndGet());
        Files.createDirectory(dir);
        return new ScratchCgroup(dir);
    }

    /**
     * Removes the empty groups {@code <prefix>-<pid>-<n>} of processes that no longer run (killed
     * before they could close them) and returns them. A group with processes in it stays.
     */
    public static List<Path> removeLeftovers(String prefix) throws IOException {
        Pattern ours = Pattern.compile(Pattern.quote(prefix) + "-(\\d+)-\\d+");
        List<Path> removed = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(mount(), prefix + "-*")) {
            for (Path dir : dirs) {
                Matcher m = ours.matcher(dir.getFileName().toString());
                if (!m.matches() || ProcessHandle.of(Long.parseLong(m.group(1))).isPresent()) {
                    continue;
                }
                ScratchCgroup left = new ScratchCgroup(dir);
                if (left.processes().isEmpty()) {
                    left.close();
                    removed.add(dir);
                }
            }
        }
        return removed;
    }

    public Path dir() {
        return dir;
    }

    /** Moves process {@code pid} (all its threads) into the group. */
    public void add(long pid) throws IOException {
        Files.writeString(dir.resolve("cgroup.procs"), Long.toString(pid));
    }

    /** Moves this JVM into the group; closing the result moves it back where it was. */
    public AutoCloseable enter() throws IOException {
        Path home = ofThisProcess();
        add(ProcessHandle.current().pid());
        return () -> Files.writeString(home.resolve("cgroup.procs"), Long.toString(ProcessHandle.current().pid()));
    }

    /** Processes still in the group (which keep it from being removed). */
    public List<Long> processes() throws IOException {
        return Files.readAllLines(dir.resolve("cgroup.procs")).stream().filter(l -> !l.isBlank()).map(Long::parseLong)
                .toList();
    }

    /** Removes the group; it must be empty by then (the caller stops what it started in it). */
    @Override
    public void close() throws IOException {
        List<Long> left = processes();
        if (!left.isEmpty()) {
            throw new IOException("cgroup " + dir + " still has processes " + left + "; stop them first");
        }
        Files.deleteIfExists(dir);
    }

    /** The group this JVM is in now. */
    static Path ofThisProcess() throws IOException {
        String path = Files.readAllLines(Path.of("/proc/self/cgroup")).stream().filter(l -> l.startsWith("0::"))
                .map(l -> l.substring(3)).findFirst()
                .orElseThrow(() -> new IOException("this process is in no cgroup v2 group (/proc/self/cgroup)"));
        return mount().resolve(path.substring(1));
    }

    /** The cgroup2 mount point, from /proc/self/mountinfo. */
    static Path mount() throws IOException {
        return MountInfo.cgroup2Mounts().stream().findFirst().orElseThrow(() -> new IOException(
                "no cgroup2 filesystem is mounted (/proc/self/mountinfo); the sockmap technique needs one"));
    }
}
