package io.shunt.testbed;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToDoubleFunction;

/**
 * The arithmetic and the printed table of {@code ./shunt bench}, apart from any measuring: medians
 * over rounds, ratios to direct and to HAProxy, the proxy's CPU per unit of work, and the issue-#7
 * targets. The records are also what goes to the JSON file.
 */
final class BenchReport {
    static final String DIRECT = "direct";
    static final String HAPROXY = "haproxy";
    static final String UPLOAD = "pod -> upstream";
    static final String DOWNLOAD = "upstream -> pod";
    static final String MET = "met";
    static final String NOT_MET = "not met";
    static final String NOT_MEASURED = "not measured";
    static final String ELSEWHERE = "see bench-cni";

    private BenchReport() {
    }

    /** A load wrk puts on the upstream: keep-alive, or one new connection per request. */
    record Load(int connections, boolean newConnectionPerRequest) {
        String label() {
            return (newConnectionPerRequest ? "new conn" : "keep-alive") + " c=" + connections;
        }
    }

    /** One wrk run, and the CPU seconds the mode's proxy used meanwhile (NaN for direct). */
    record LoadSample(WrkResult wrk, double proxyCpuSeconds) {
    }

    /** One iperf3 run, and the CPU seconds the mode's proxy used meanwhile (NaN for direct). */
    record BulkSample(Iperf3.Result iperf, double proxyCpuSeconds) {
    }

    /**
     * The medians of one mode under one load. Ratios and the added latency are null where there is
     * nothing to compare with; the proxy's CPU is null for direct. {@code failedRuns} runs of a
     * technique failed (errors, or the load generator failed) and are not in the medians; the
     * first one's reason is {@code failure}. With no sample left, the figures are NaN.
     */
    record LoadRow(String mode, String load, int connections, boolean newConnectionPerRequest, int samples,
                   double reqPerS, double p50Us, double p99Us, Double addedP50Us, Double xDirect, Double xHaproxy,
                   @JsonProperty("proxy_cpu_s_per_1k_req") Double proxyCpuSPer1kReq, int failedRuns, String failure) {
        LoadRow(String mode, String load, int connections, boolean newConnectionPerRequest, int samples, double reqPerS,
                double p50Us, double p99Us, Double addedP50Us, Double xDirect, Double xHaproxy, Double proxyCpuSPer1kReq) {
            this(mode, load, connections, newConnectionPerRequest, samples, reqPerS, p50Us, p99Us, addedP50Us, xDirect,
                    xHaproxy, proxyCpuSPer1kReq, 0, null);
        }
    }

    /** The medians of one mode in one direction of bulk transfer; failed runs as in {@link LoadRow}. */
    record BulkRow(String mode, String direction, int samples, double gbitPerS, Double xDirect, Double xHaproxy,
                   @JsonProperty("proxy_cpu_s_per_gb") Double proxyCpuSPerGb, long retransmits, int failedRuns,
                   String failure) {
    }

    /** A proxy's resident memory at the end of the run. */
    record MemoryRow(String process, long pid, long vmRssKib, long rssAnonKib) {
    }

    /** One issue-#7 target: met, not met, not measured in this run, or measured by bench-cni. */
    record Target(String target, String verdict, String detail) {
    }

    /** One row per (load, mode), loads in the given order, modes in {@code modes} order. */
    static List<LoadRow> loadRows(Map<Load, Map<String, List<LoadSample>>> samples, List<String> modes) {
        return loadRows(samples, Map.of(), modes);
    }

    /**
     * As {@link #loadRows(Map, List)}, with the runs that failed, by load and mode (one reason per
     * run): a mode whose every run failed gets a row without figures.
     */
    static List<LoadRow> loadRows(Map<Load, Map<String, List<LoadSample>>> samples,
                                  Map<Load, Map<String, List<String>>> failures, List<String> modes) {
        List<LoadRow> rows = new ArrayList<>();
        for (var byLoad : samples.entrySet()) {
            Load load = byLoad.getKey();
            Map<String, List<LoadSample>> byMode = byLoad.getValue();
            Map<String, List<String>> failedByMode = failures.getOrDefault(load, Map.of());
            Double directRps = medianOf(byMode.get(DIRECT), s -> s.wrk().requestsPerSec());
            Double directP50 = medianOf(byMode.get(DIRECT), s -> s.wrk().p50Micros());
            Double haproxyRps = medianOf(byMode.get(HAPROXY), s -> s.wrk().requestsPerSec());
            for (String mode : modes) {
                List<LoadSample> list = byMode.get(mode);
                List<String> failed = failedByMode.getOrDefault(mode, List.of());
                if (list == null || list.isEmpty()) {
                    if (!failed.isEmpty()) {
                        rows.add(new LoadRow(mode, load.label(), load.connections(), load.newConnectionPerRequest(), 0,
                                Double.NaN, Double.NaN, Double.NaN, null, null, null, null, failed.size(), failed.getFirst()));
                    }
                    continue;
                }
                double rps = medianOf(list, s -> s.wrk().requestsPerSec());
                double p50 = medianOf(list, s -> s.wrk().p50Micros());
                double p99 = medianOf(list, s -> s.wrk().p99Micros());
                double cpu = median(list.stream().mapToDouble(s -> s.proxyCpuSeconds() / s.wrk().requests() * 1000).toArray());
                rows.add(new LoadRow(mode, load.label(), load.connections(), load.newConnectionPerRequest(), list.size(),
                        rps, p50, p99,
                        mode.equals(DIRECT) || directP50 == null ? null : p50 - directP50,
                        mode.equals(DIRECT) || directRps == null ? null : rps / directRps,
                        mode.equals(HAPROXY) || haproxyRps == null ? null : rps / haproxyRps,
                        Double.isNaN(cpu) ? null : cpu, failed.size(), failed.isEmpty() ? null : failed.getFirst()));
            }
        }
        return rows;
    }

    /** One row per (direction, mode), directions in the given order, modes in {@code modes} order. */
    static List<BulkRow> bulkRows(Map<String, Map<String, List<BulkSample>>> samples, List<String> modes) {
        return bulkRows(samples, Map.of(), modes);
    }

    /** As {@link #bulkRows(Map, List)}, with the runs that failed, as in {@link #loadRows(Map, Map, List)}. */
    static List<BulkRow> bulkRows(Map<String, Map<String, List<BulkSample>>> samples,
                                  Map<String, Map<String, List<String>>> failures, List<String> modes) {
        List<BulkRow> rows = new ArrayList<>();
        for (var byDirection : samples.entrySet()) {
            Map<String, List<BulkSample>> byMode = byDirection.getValue();
            Map<String, List<String>> failedByMode = failures.getOrDefault(byDirection.getKey(), Map.of());
            Double direct = medianOf(byMode.get(DIRECT), s -> s.iperf().gbitPerSecond());
            Double haproxy = medianOf(byMode.get(HAPROXY), s -> s.iperf().gbitPerSecond());
            for (String mode : modes) {
                List<BulkSample> list = byMode.get(mode);
                List<String> failed = failedByMode.getOrDefault(mode, List.of());
                if (list == null || list.isEmpty()) {
                    if (!failed.isEmpty()) {
                        rows.add(new BulkRow(mode, byDirection.getKey(), 0, Double.NaN, null, null, null, -1, failed.size(),
                                failed.getFirst()));
                    }
                    continue;
                }
                double gbit = medianOf(list, s -> s.iperf().gbitPerSecond());
                double cpu = median(list.stream().mapToDouble(s -> s.proxyCpuSeconds() / s.iperf().bytes() * 1e9).toArray());
                long retransmits = (long) median(list.stream().mapToDouble(s -> s.iperf().retransmits()).toArray());
                rows.add(new BulkRow(mode, byDirection.getKey(), list.size(), gbit,
                        mode.equals(DIRECT) || direct == null ? null : gbit / direct,
                        mode.equals(HAPROXY) || haproxy == null ? null : gbit / haproxy,
                        Double.isNaN(cpu) ? null : cpu, retransmits, failed.size(), failed.isEmpty() ? null : failed.getFirst()));
            }
        }
        return rows;
    }

    /**
     * The targets of issue #7, judged for the best of Shunt's techniques on each figure.
     *
     * @param techniques the modes that are Shunt techniques (not direct, not HAProxy)
     * @param agentRss   the agent's memory at the end of this run, or null
     */
    static List<Target> targets(List<LoadRow> loads, List<BulkRow> bulk, List<String> techniques, MemoryRow agentRss,
                                int pods) {
        List<Target> targets = new ArrayList<>();

        String t1 = "best technique at 32 connections >= 1.2x HAProxy+REDIRECT";
        Optional<LoadRow> haproxy32 = load(loads, HAPROXY, 32, false);
        Optional<LoadRow> best32 = best(loads, techniques, 32, false, Comparator.comparingDouble(LoadRow::reqPerS));
        if (haproxy32.isPresent() && best32.isPresent()) {
            double ratio = best32.get().reqPerS() / haproxy32.get().reqPerS();
            targets.add(new Target(t1, ratio >= 1.2 ? MET : NOT_MET, format("%s %.2fx haproxy (%,.0f vs %,.0f req/s)",
                    best32.get().mode(), ratio, best32.get().reqPerS(), haproxy32.get().reqPerS())));
        } else {
            targets.add(new Target(t1, NOT_MEASURED, "needs --connections with 32"));
        }

        String t2 = "p50 added latency at 1 connection <= HAProxy's";
        Optional<LoadRow> haproxy1 = load(loads, HAPROXY, 1, false);
        Optional<LoadRow> best1 = best(loads, techniques, 1, false,
                Comparator.comparingDouble((LoadRow r) -> r.addedP50Us() == null ? Double.MAX_VALUE : r.addedP50Us()).reversed());
        if (haproxy1.isPresent() && best1.isPresent() && best1.get().addedP50Us() != null
                && haproxy1.get().addedP50Us() != null) {
            double ours = best1.get().addedP50Us();
            double theirs = haproxy1.get().addedP50Us();
            targets.add(new Target(t2, ours <= theirs ? MET : NOT_MET, format("%s %+.1f us vs haproxy %+.1f us (direct p50 %.1f us)",
                    best1.get().mode(), ours, theirs, best1.get().p50Us() - ours)));
        } else {
            targets.add(new Target(t2, NOT_MEASURED, "needs --connections with 1"));
        }

        String t3 = "new connections/s >= 0.6x direct";
        Optional<LoadRow> bestNew = loads.stream().filter(r -> r.samples() > 0 && r.newConnectionPerRequest()
                && techniques.contains(r.mode()) && r.xDirect() != null).max(Comparator.comparingDouble(LoadRow::xDirect));
        if (bestNew.isPresent()) {
            Optional<LoadRow> haproxyNew = load(loads, HAPROXY, bestNew.get().connections(), true);
            targets.add(new Target(t3, bestNew.get().xDirect() >= 0.6 ? MET : NOT_MET, format("%s %.2fx direct at c=%d%s",
                    bestNew.get().mode(), bestNew.get().xDirect(), bestNew.get().connections(),
                    haproxyNew.map(h -> format(" (haproxy %.2fx)", h.xDirect())).orElse(""))));
        } else {
            targets.add(new Target(t3, NOT_MEASURED, "needs --new-connections above 0"));
        }

        for (String direction : List.of(UPLOAD, DOWNLOAD)) {
            String t4 = "bulk " + direction + " >= 0.9x direct";
            Optional<BulkRow> bestBulk = bulk.stream().filter(r -> r.samples() > 0 && r.direction().equals(direction)
                    && techniques.contains(r.mode()) && r.xDirect() != null).max(Comparator.comparingDouble(BulkRow::xDirect));
            Optional<BulkRow> haproxyBulk = bulk.stream().filter(r -> r.direction().equals(direction)
                    && r.mode().equals(HAPROXY) && r.xDirect() != null).findFirst();
            targets.add(bestBulk.map(b -> new Target(t4, b.xDirect() >= 0.9 ? MET : NOT_MET,
                            format("%s %.2fx direct (%.1f vs %.1f Gbit/s)%s", b.mode(), b.xDirect(), b.gbitPerS(),
                                    b.gbitPerS() / b.xDirect(), haproxyBulk.map(h -> format("; haproxy %.2fx", h.xDirect())).orElse(""))))
                    .orElse(new Target(t4, NOT_MEASURED, "needs --bulk-seconds above 0")));
        }

        targets.add(new Target("agent RSS with 200 pods <= 150 MiB", ELSEWHERE, "measured by ./shunt bench-cni"
                + (agentRss == null ? "" : format("; here, with %d pods, the agent's VmRSS was %.1f MiB", pods,
                agentRss.vmRssKib() / 1024.0))));
        return targets;
    }

    private static Optional<LoadRow> load(List<LoadRow> rows, String mode, int connections, boolean newConnections) {
        return rows.stream().filter(r -> r.samples() > 0 && r.mode().equals(mode) && r.connections() == connections
                && r.newConnectionPerRequest() == newConnections).findFirst();
    }

    private static Optional<LoadRow> best(List<LoadRow> rows, List<String> techniques, int connections,
                                          boolean newConnections, Comparator<LoadRow> better) {
        return rows.stream().filter(r -> r.samples() > 0 && techniques.contains(r.mode()) && r.connections() == connections
                && r.newConnectionPerRequest() == newConnections).max(better);
    }

    /** The printed report: load table, bulk table, memory, targets. */
    static String render(List<LoadRow> loads, List<BulkRow> bulk, List<MemoryRow> memory, List<Target> targets) {
        StringBuilder out = new StringBuilder();
        // as wide as the longest mode, e.g. "sockmap (nio)"
        int modeWidth = Math.max(9, java.util.stream.Stream.concat(loads.stream().map(LoadRow::mode),
                bulk.stream().map(BulkRow::mode)).mapToInt(String::length).max().orElse(0));
        String mode = "%-" + modeWidth + "s";
        String partlyFailed = " ".repeat(modeWidth + 1) + "%s%n";
        if (!loads.isEmpty()) {
            out.append(format(mode + " %-15s %11s %8s %8s %8s %9s %10s %19s%n", "mode", "load", "req/s", "p50 us",
                    "p99 us", "+p50 us", "x direct", "x haproxy", "proxy CPU s/1k req"));
            String last = null;
            for (LoadRow r : loads) {
                if (last != null && !last.equals(r.load())) {
                    out.append('\n');
                }
                last = r.load();
                if (r.samples() == 0) {
                    out.append(format(mode + " %-15s %s%n", r.mode(), r.load(), failedText(r.failedRuns(), r.failure())));
                    continue;
                }
                out.append(format(mode + " %-15s %,11.0f %8.0f %8.0f %8s %9s %10s %19s%n", r.mode(), r.load(), r.reqPerS(),
                        r.p50Us(), r.p99Us(), r.addedP50Us() == null ? "" : format("%+.0f", r.addedP50Us()),
                        ratio(r.xDirect()), ratio(r.xHaproxy()),
                        r.proxyCpuSPer1kReq() == null ? "-" : format("%.4f", r.proxyCpuSPer1kReq())));
                if (r.failedRuns() > 0) {
                    out.append(format(partlyFailed, "and " + failedText(r.failedRuns(), r.failure())));
                }
            }
        }
        if (!bulk.isEmpty()) {
            out.append('\n').append(format(mode + " %-15s %11s %9s %10s %19s %8s%n", "mode", "bulk (iperf3)", "Gbit/s",
                    "x direct", "x haproxy", "proxy CPU s/GB", "retrans"));
            String last = null;
            for (BulkRow r : bulk) {
                if (last != null && !last.equals(r.direction())) {
                    out.append('\n');
                }
                last = r.direction();
                if (r.samples() == 0) {
                    out.append(format(mode + " %-15s %s%n", r.mode(), r.direction(), failedText(r.failedRuns(), r.failure())));
                    continue;
                }
                out.append(format(mode + " %-15s %11.2f %9s %10s %19s %8s%n", r.mode(), r.direction(), r.gbitPerS(),
                        ratio(r.xDirect()), ratio(r.xHaproxy()),
                        r.proxyCpuSPerGb() == null ? "-" : format("%.3f", r.proxyCpuSPerGb()),
                        r.retransmits() < 0 ? "?" : Long.toString(r.retransmits())));
                if (r.failedRuns() > 0) {
                    out.append(format(partlyFailed, "and " + failedText(r.failedRuns(), r.failure())));
                }
            }
        }
        if (!memory.isEmpty()) {
            out.append('\n');
            String process = "%-" + Math.max(8, memory.stream().mapToInt(m -> m.process().length()).max().orElse(0)) + "s";
            for (MemoryRow m : memory) {
                out.append(format("RSS at the end: " + process + " VmRSS %7.1f MiB, RssAnon %7.1f MiB (pid %d)%n", m.process(),
                        m.vmRssKib() / 1024.0, m.rssAnonKib() / 1024.0, m.pid()));
            }
        }
        out.append("\ntargets (issue #7), from this run's medians:\n");
        for (Target t : targets) {
            out.append(format("  %-15s %-58s %s%n", "[" + t.verdict() + "]", t.target(), t.detail()));
        }
        return out.toString();
    }

    private static String failedText(int runs, String failure) {
        return (runs == 1 ? "1 run" : runs + " runs") + " FAILED, first: " + failure;
    }

    private static String ratio(Double r) {
        return r == null ? "" : format("%.2fx", r);
    }

    private static String format(String pattern, Object... args) {
        return String.format(Locale.ROOT, pattern, args);
    }

    private static <T> Double medianOf(List<T> samples, ToDoubleFunction<T> value) {
        return samples == null || samples.isEmpty() ? null : median(samples.stream().mapToDouble(value).toArray());
    }

    /** The median; of an even count, the mean of the middle two. NaN for none. */
    static double median(double[] values) {
        if (values.length == 0) {
            return Double.NaN;
        }
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
