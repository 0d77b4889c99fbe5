package io.shunt.testbed;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * What the soak reads about processes beyond {@link ProcessFootprint}: CPU time from
 * {@code /proc/<pid>/stat}, the open-files limit from {@code /proc/<pid>/limits} (and raising it
 * with {@code prlimit}), and sums over the pods of the agent's Prometheus metrics.
 */
final class SoakProc {
    /** USER_HZ: clock ticks per second in {@code /proc/<pid>/stat}, 100 on every Linux architecture we run on. */
    static final int TICKS_PER_SECOND = 100;

    private SoakProc() {
    }

    /** User plus system CPU time of process {@code pid} so far, in seconds. */
    static double cpuSeconds(long pid) throws IOException {
        return cpuTicks(Files.readString(Path.of("/proc", Long.toString(pid), "stat"))) / (double) TICKS_PER_SECOND;
    }

    /**
     * utime + stime (fields 14 and 15) of a {@code /proc/<pid>/stat} line. The command name (field
     * 2) is in parentheses and may itself contain spaces and parentheses, so fields are counted from
     * the last {@code ')'}.
     */
    static long cpuTicks(String stat) {
        int close = stat.lastIndexOf(')');
        if (close < 0) {
            throw new IllegalArgumentException("not a /proc/<pid>/stat line: " + stat.strip());
        }
        // After ") ": field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
        String[] f = stat.substring(close + 1).strip().split("\\s+");
        if (f.length < 13) {
            throw new IllegalArgumentException("/proc/<pid>/stat line too short: " + stat.strip());
        }
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** The machine's 1-minute load average from {@code /proc/loadavg}, or -1 when unreadable: how busy the shared cores were. */
    static double loadAverage() {
        try {
            return loadAverage(Files.readString(Path.of("/proc/loadavg")));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** The first field of {@code /proc/loadavg}, e.g. {@code 4.02 4.28 4.08 3/412 31817} gives 4.02. */
    static double loadAverage(String loadavg) {
        return Double.parseDouble(loadavg.strip().split("\\s+")[0]);
    }

    /**
     * The open fds of process {@code pid} by kind, from their {@code /proc/<pid>/fd} links: {@code socket},
     * {@code pipe}, {@code anon_inode:[eventfd]}, or a file's path. Fds that close while being read are skipped.
     */
    static Map<String, Integer> fdKinds(long pid) throws IOException {
        Map<String, Integer> kinds = new TreeMap<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    kinds.merge(fdKind(Files.readSymbolicLink(fd).toString()), 1, Integer::sum);
                } catch (IOException e) {
                    // closed since the listing
                }
            }
        }
        return kinds;
    }

    /** {@code socket:[4711]} → {@code socket}; {@code anon_inode:[io_uring]} stays; a path stays. */
    static String fdKind(String link) {
        int bracket = link.indexOf(":[");
        if (bracket > 0 && !link.startsWith("anon_inode:")) {
            return link.substring(0, bracket);
        }
        return link;
    }

    /** What {@code after} holds more (positive) or fewer (negative) of than {@code before}, kinds with no change left out. */
    static Map<String, Integer> difference(Map<String, Integer> before, Map<String, Integer> after) {
        Map<String, Integer> diff = new TreeMap<>();
        Set<String> kinds = new TreeSet<>(before.keySet());
        kinds.addAll(after.keySet());
        for (String kind : kinds) {
            int d = after.getOrDefault(kind, 0) - before.getOrDefault(kind, 0);
            if (d != 0) {
                diff.put(kind, d);
            }
        }
        return diff;
    }

    /** The soft and hard limit on open files; -1 stands for unlimited. */
    record FileLimit(long soft, long hard) {
    }

    static FileLimit openFilesLimit(long pid) throws IOException {
        return openFilesLimit(Files.readString(Path.of("/proc", Long.toString(pid), "limits")));
    }

    /** The {@code Max open files} line of {@code /proc/<pid>/limits}, e.g. {@code Max open files  20000  20000  files}. */
    static FileLimit openFilesLimit(String limits) {
        for (String line : limits.split("\n")) {
            if (line.startsWith("Max open files")) {
                String[] f = line.substring("Max open files".length()).strip().split("\\s+");
                if (f.length >= 2) {
                    return new FileLimit(limit(f[0]), limit(f[1]));
                }
            }
        }
        throw new IllegalArgumentException("/proc/<pid>/limits has no 'Max open files' line:\n" + limits);
    }

    private static long limit(String value) {
        return value.equals("unlimited") ? -1 : Long.parseLong(value);
    }

    /** True when {@code limit} allows at least {@code needed} open files. */
    static boolean allows(FileLimit limit, long needed) {
        return limit.soft() < 0 || limit.soft() >= needed;
    }

    /**
     * Raises process {@code pid}'s open-files limit to at least {@code needed} (soft and hard) with
     * {@code prlimit}, which needs root for a hard limit above the current one. Returns the limit now in force.
     */
    static FileLimit raiseOpenFiles(long pid, long needed) throws IOException {
        FileLimit now = openFilesLimit(pid);
        if (allows(now, needed)) {
            return now;
        }
        long hard = now.hard() < 0 ? -1 : Math.max(now.hard(), needed);
        Command.run(List.of("prlimit", "--pid", Long.toString(pid),
                "--nofile=" + needed + ":" + (hard < 0 ? "unlimited" : Long.toString(hard))), Command.DEFAULT_TIMEOUT,
                "raising the open-files limit of pid " + pid + " needs prlimit (util-linux) and root; or run with a"
                        + " higher `ulimit -n`");
        FileLimit raised = openFilesLimit(pid);
        if (!allows(raised, needed)) {
            throw new IOException("the open-files limit of pid " + pid + " is still " + raised.soft() + " after prlimit,"
                    + " below the " + needed + " the soak needs");
        }
        return raised;
    }

    /**
     * The agent's Java heap per {@code jstat -gc}, in KiB: in use (garbage not yet collected
     * included), committed (what the JVM has reserved for the heap and may have touched), and the
     * old generation in use, where long-lived objects (and leaks) end up.
     */
    record Heap(long usedKib, long committedKib, long oldUsedKib) {
        static final Heap UNKNOWN = new Heap(-1, -1, -1);
    }

    /** Runs {@code jstat -gc pid}, which reads the JVM's perf data without attaching (no thread starts in it). */
    static Heap heap(Path jstat, long pid) {
        if (jstat == null) {
            return Heap.UNKNOWN;
        }
        try {
            return heap(Command.run(List.of(jstat.toString(), "-gc", Long.toString(pid)), Command.DEFAULT_TIMEOUT,
                    "jstat reads /tmp/hsperfdata_<user>/" + pid));
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("heap of pid " + pid + " unknown: " + e.getMessage());
            return Heap.UNKNOWN;
        }
    }

    /** Parses {@code jstat -gc} output; columns are found by name, since their order varies by collector. */
    static Heap heap(String jstatGc) {
        return new Heap(ProcessFootprint.heapUsedKib(jstatGc), columns(jstatGc, "S0C", "S1C", "EC", "OC"),
                columns(jstatGc, "OU"));
    }

    private static long columns(String jstatGc, String... names) {
        String[] lines = jstatGc.strip().split("\n");
        if (lines.length < 2) {
            throw new IllegalArgumentException("jstat -gc printed no figures: " + jstatGc.strip());
        }
        List<String> header = List.of(lines[0].strip().split("\\s+"));
        String[] values = lines[1].strip().split("\\s+");
        double sum = 0;
        for (String name : names) {
            int i = header.indexOf(name);
            if (i < 0 || i >= values.length) {
                throw new IllegalArgumentException("jstat -gc output has no " + name + " column: " + jstatGc.strip());
            }
            sum += Double.parseDouble(values[i]);
        }
        return Math.round(sum);
    }

    /**
     * The heap still in use right after a full collection, which {@code jcmd <pid> GC.run} asks for:
     * the live objects, so what a leak would grow. jcmd attaches, which starts the JVM's Attach
     * Listener thread and its socket once, for the rest of the process's life. -1 when unknown.
     */
    static long liveHeapKib(Path jcmd, Path jstat, long pid) {
        if (jcmd == null || jstat == null) {
            return -1;
        }
        try {
            Command.run(List.of(jcmd.toString(), Long.toString(pid), "GC.run"), Command.DEFAULT_TIMEOUT,
                    "jcmd attaches to the JVM through /tmp/.java_pid" + pid);
        } catch (IOException e) {
            System.err.println("live heap of pid " + pid + " unknown: " + e.getMessage());
            return -1;
        }
        return heap(jstat, pid).usedKib();
    }

    /**
     * The sum over every sample of {@code name} (all pods, all label sets) in a Prometheus text
     * exposition, or -1 when there is no sample of that name. Only samples named exactly
     * {@code name} count: {@code shunt_x_total} does not match {@code shunt_x}.
     */
    static long sum(String exposition, String name) {
        long total = 0;
        boolean found = false;
        for (String line : exposition.split("\n")) {
            if (line.isEmpty() || line.startsWith("#") || !line.startsWith(name)) {
                continue;
            }
            int end = name.length();
            if (line.length() <= end || (line.charAt(end) != '{' && line.charAt(end) != ' ')) {
                continue;
            }
            // The value follows the label set (whose values cannot hold '}' unescaped here) or the name.
            int labelsEnd = line.charAt(end) == '{' ? line.lastIndexOf('}') : end;
            String value = line.substring(labelsEnd + 1).strip().split("\\s+")[0];
            total += (long) Double.parseDouble(value);
            found = true;
        }
        return found ? total : -1;
    }
}
