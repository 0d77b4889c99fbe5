package io.shunt.testbed;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What {@code ./shunt bench} reads from {@code /proc} about a proxy process (the agent or
 * HAProxy): its CPU time, summed over all its threads, and its resident memory.
 */
final class BenchProc {
    /**
     * USER_HZ, the unit of {@code utime} and {@code stime} in {@code /proc/<pid>/stat}. It is 100 on
     * every architecture Linux runs Shunt on (x86-64, arm64); {@code getconf CLK_TCK} prints it.
     */
    static final int CLOCK_TICKS_PER_SECOND = 100;

    private BenchProc() {
    }

    /** User plus system CPU seconds of process {@code pid}, all its threads included. */
    static double cpuSeconds(long pid) throws IOException {
        return cpuSeconds(read(pid, "stat"));
    }

    /**
     * User plus system CPU seconds from the text of {@code /proc/<pid>/stat}. Fields are counted
     * from the last {@code )}, since the command name before it may hold spaces and parentheses.
     */
    static double cpuSeconds(String stat) {
        int end = stat.lastIndexOf(')');
        if (end < 0 || end + 2 > stat.length()) {
            throw new IllegalArgumentException("not a /proc/<pid>/stat line: " + stat.strip());
        }
        // After "(comm) " come field 3 (state), 4, ...: utime is field 14 and stime field 15.
        String[] f = stat.substring(end + 2).strip().split(" ");
        if (f.length < 13) {
            throw new IllegalArgumentException("/proc/<pid>/stat has " + (f.length + 2) + " fields, expected 15 or more: "
                    + stat.strip());
        }
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / (double) CLOCK_TICKS_PER_SECOND;
    }

    /** VmRSS and RssAnon of process {@code pid}, in KiB. */
    static Memory memory(long pid) throws IOException {
        return memory(read(pid, "status"));
    }

    /** VmRSS and RssAnon from the text of {@code /proc/<pid>/status}. */
    static Memory memory(String status) {
        return new Memory(ProcessFootprint.field(status, "VmRSS"), ProcessFootprint.field(status, "RssAnon"));
    }

    /** The process's command name ({@code /proc/<pid>/comm}), to check a pid is the process meant. */
    static String command(long pid) throws IOException {
        return read(pid, "comm").strip();
    }

    /** The 1, 5 and 15 minute load averages from {@code /proc/loadavg}, e.g. {@code 0.94 1.02 1.19}. */
    static String loadAverage() throws IOException {
        return loadAverage(Files.readString(Path.of("/proc/loadavg")));
    }

    static String loadAverage(String loadavg) {
        String[] f = loadavg.strip().split("\\s+");
        if (f.length < 3) {
            throw new IllegalArgumentException("not a /proc/loadavg line: " + loadavg.strip());
        }
        return f[0] + " " + f[1] + " " + f[2];
    }

    private static String read(long pid, String file) throws IOException {
        try {
            return Files.readString(Path.of("/proc", Long.toString(pid), file));
        } catch (IOException e) {
            throw new IOException("cannot read /proc/" + pid + "/" + file + ": " + e.getMessage()
                    + " — has the process exited?", e);
        }
    }

    /**
     * @param vmRssKib   all resident memory
     * @param rssAnonKib the anonymous part: heap, buffers, stacks; not the shared executable and libraries
     */
    record Memory(long vmRssKib, long rssAnonKib) {
    }
}
