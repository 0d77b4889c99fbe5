package io.shunt.testbed;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

/**
 * What a running JVM process holds: resident memory from {@code /proc/<pid>/status}, its threads
 * and open file descriptors, and optionally its Java heap in use.
 *
 * @param vmRssKib    VmRSS: all resident memory, including mapped files such as the JDK's modules image
 * @param rssAnonKib  RssAnon: resident anonymous memory (heap, metaspace, thread stacks, native buffers),
 *                    the part that grows with what the process does
 * @param rssFileKib  RssFile: resident file-backed pages, mostly shared with other JVMs
 * @param threads     threads of the process
 * @param openFds     entries of {@code /proc/<pid>/fd}
 * @param heapUsedKib Java heap in use per {@code jstat -gc}, garbage not yet collected included; -1
 *                    when jstat was not asked or could not tell
 */
public record ProcessFootprint(long vmRssKib, long rssAnonKib, long rssFileKib, int threads, int openFds,
                               long heapUsedKib) {
    private static final Duration JSTAT_TIMEOUT = Duration.ofSeconds(30);

    /**
     * Samples process {@code pid}.
     *
     * @param jstat the JDK's jstat, or null to skip the heap. jstat reads the JVM's perf-data file
     *              instead of attaching (as jcmd would), so the sample starts no thread in the process
     */
    public static ProcessFootprint of(long pid, Path jstat) throws IOException {
        Path proc = Path.of("/proc", Long.toString(pid));
        String status;
        int fds;
        try (Stream<Path> entries = Files.list(proc.resolve("fd"))) {
            status = Files.readString(proc.resolve("status"));
            fds = (int) entries.count();
        } catch (IOException e) {
            throw new IOException("cannot read /proc/" + pid + " (status, fd): " + e.getMessage()
                    + " — has the process exited?", e);
        }
        long heap = -1;
        if (jstat != null) {
            try {
                heap = heapUsedKib(Command.run(List.of(jstat.toString(), "-gc", Long.toString(pid)), JSTAT_TIMEOUT,
                        "jstat reads /tmp/hsperfdata_<user>/" + pid + "; a JVM run with -XX:-UsePerfData has none"));
            } catch (IOException | IllegalArgumentException e) {
                System.err.println("heap of pid " + pid + " unknown: " + e.getMessage());
            }
        }
        return new ProcessFootprint(field(status, "VmRSS"), field(status, "RssAnon"), field(status, "RssFile"),
                (int) field(status, "Threads"), fds, heap);
    }

    /** A numeric field of {@code /proc/<pid>/status}, e.g. {@code VmRSS:   123456 kB} gives 123456. */
    static long field(String status, String name) {
        for (String line : status.split("\n")) {
            if (line.startsWith(name + ":")) {
                return Long.parseLong(line.substring(name.length() + 1).strip().split("\\s+")[0]);
            }
        }
        throw new IllegalArgumentException("/proc/<pid>/status has no " + name + " line:\n" + status);
    }

    /**
     * The heap in use from {@code jstat -gc} output: survivor, eden and old space used (S0U, S1U,
     * EU, OU), in KiB. Columns are found by name, since their order and number vary by collector.
     */
    static long heapUsedKib(String jstatGc) {
        String[] lines = jstatGc.strip().split("\n");
        if (lines.length < 2) {
            throw new IllegalArgumentException("jstat -gc printed no figures: " + jstatGc.strip());
        }
        List<String> header = List.of(lines[0].strip().split("\\s+"));
        String[] values = lines[1].strip().split("\\s+");
        double used = 0;
        for (String column : List.of("S0U", "S1U", "EU", "OU")) {
            int i = header.indexOf(column);
            if (i < 0 || i >= values.length) {
                throw new IllegalArgumentException("jstat -gc output has no " + column + " column: " + jstatGc.strip());
            }
            used += Double.parseDouble(values[i]);
        }
        return Math.round(used);
    }
}
