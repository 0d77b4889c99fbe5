package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.shunt.testbed.BenchReport.DIRECT;
import static io.shunt.testbed.BenchReport.DOWNLOAD;
import static io.shunt.testbed.BenchReport.HAPROXY;
import static io.shunt.testbed.BenchReport.UPLOAD;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bench's arithmetic and its printed table, from made-up samples. */
class BenchReportTest {
    private static final List<String> MODES = List.of(DIRECT, "redirect", "tproxy", HAPROXY);
    private static final List<String> TECHNIQUES = List.of("redirect", "tproxy");
    private static final BenchReport.Load C1 = new BenchReport.Load(1, false);
    private static final BenchReport.Load C32 = new BenchReport.Load(32, false);
    private static final BenchReport.Load NEW32 = new BenchReport.Load(32, true);

    @Test
    void mediansAreTakenPerFigureAcrossRounds() {
        assertEquals(2.0, BenchReport.median(new double[]{3, 1, 2}));
        assertEquals(2.5, BenchReport.median(new double[]{4, 1, 2, 3}));
        assertTrue(Double.isNaN(BenchReport.median(new double[0])));

        Map<BenchReport.Load, Map<String, List<BenchReport.LoadSample>>> samples = new LinkedHashMap<>();
        samples.put(C1, new LinkedHashMap<>(Map.of(
                DIRECT, List.of(load(100_000, 8, 20, Double.NaN), load(120_000, 10, 30, Double.NaN), load(80_000, 9, 25, Double.NaN)),
                "redirect", List.of(load(50_000, 20, 40, 0.5), load(40_000, 18, 60, 0.4), load(60_000, 19, 50, 0.6)))));
        List<BenchReport.LoadRow> rows = BenchReport.loadRows(samples, MODES);
        assertEquals(2, rows.size(), "modes without samples have no row");
        BenchReport.LoadRow direct = rows.get(0);
        assertEquals(new BenchReport.LoadRow(DIRECT, "keep-alive c=1", 1, false, 3, 100_000, 9, 25, null, null, null, null),
                direct);
        BenchReport.LoadRow redirect = rows.get(1);
        assertEquals(50_000, redirect.reqPerS());
        assertEquals(10, redirect.addedP50Us(), 1e-9, "median p50 19 minus direct's median p50 9");
        assertEquals(0.5, redirect.xDirect(), 1e-9);
        assertNull(redirect.xHaproxy(), "no HAProxy samples, no ratio");
        // CPU per 1,000 requests is the median of each run's own ratio: 0.5 s over 100,000 requests -> 0.005
        assertEquals(0.005, redirect.proxyCpuSPer1kReq(), 1e-12);
    }

    @Test
    void ratiosAreToDirectAndToHaproxyAtTheSameLoad() {
        List<BenchReport.LoadRow> rows = BenchReport.loadRows(fullRun(), MODES);
        assertEquals(12, rows.size());
        assertEquals(List.of(DIRECT, "redirect", "tproxy", HAPROXY), rows.subList(0, 4).stream().map(BenchReport.LoadRow::mode).toList());
        BenchReport.LoadRow tproxy32 = row(rows, "tproxy", C32);
        assertEquals(0.5, tproxy32.xDirect(), 1e-9);
        assertEquals(1.25, tproxy32.xHaproxy(), 1e-9);
        BenchReport.LoadRow haproxy32 = row(rows, HAPROXY, C32);
        assertEquals(0.4, haproxy32.xDirect(), 1e-9);
        assertNull(haproxy32.xHaproxy());
        assertEquals(2.5, row(rows, DIRECT, C32).xHaproxy(), 1e-9, "direct's row compares it with HAProxy too");
    }

    @Test
    void bulkRowsGiveGbitPerSecondRatiosAndCpuPerGigabyte() {
        List<BenchReport.BulkRow> rows = BenchReport.bulkRows(bulkRun(20, 18, 10), MODES);
        assertEquals(8, rows.size());
        BenchReport.BulkRow redirect = rows.get(1);
        assertEquals(UPLOAD, redirect.direction());
        assertEquals(18, redirect.gbitPerS(), 1e-9);
        assertEquals(0.9, redirect.xDirect(), 1e-9);
        assertEquals(1.8, redirect.xHaproxy(), 1e-9);
        // 2 CPU seconds while 10 GB went through
        assertEquals(0.2, redirect.proxyCpuSPerGb(), 1e-9);
        assertNull(rows.getFirst().proxyCpuSPerGb());
        assertEquals(DOWNLOAD, rows.get(4).direction());
    }

    @Test
    void targetsAreJudgedForTheBestTechniqueOnEachFigure() {
        List<BenchReport.LoadRow> loads = BenchReport.loadRows(fullRun(), MODES);
        List<BenchReport.BulkRow> bulk = BenchReport.bulkRows(bulkRun(20, 18, 10), MODES);
        List<BenchReport.Target> targets = BenchReport.targets(loads, bulk, TECHNIQUES,
                new BenchReport.MemoryRow("agent", 1, 204_800, 150_000), 2);
        assertEquals(6, targets.size());
        // tproxy 100k vs haproxy 80k at c=32: 1.25x
        assertEquals(new BenchReport.Target("best technique at 32 connections >= 1.2x HAProxy+REDIRECT", "met",
                "tproxy 1.25x haproxy (100,000 vs 80,000 req/s)"), targets.get(0));
        // redirect adds 6 us at c=1, tproxy 9, haproxy 5
        assertEquals(new BenchReport.Target("p50 added latency at 1 connection <= HAProxy's", "not met",
                "redirect +6.0 us vs haproxy +5.0 us (direct p50 8.0 us)"), targets.get(1));
        assertEquals(new BenchReport.Target("new connections/s >= 0.6x direct", "not met",
                "redirect 0.30x direct at c=32 (haproxy 0.70x)"), targets.get(2));
        assertEquals("met", targets.get(3).verdict());
        assertEquals("redirect 0.90x direct (18.0 vs 20.0 Gbit/s); haproxy 0.50x", targets.get(3).detail());
        assertEquals("bulk upstream -> pod >= 0.9x direct", targets.get(4).target());
        assertEquals(new BenchReport.Target("agent RSS with 200 pods <= 150 MiB", "see bench-cni",
                "measured by ./shunt bench-cni; here, with 2 pods, the agent's VmRSS was 200.0 MiB"), targets.get(5));
    }

    @Test
    void targetsNotCoveredByTheRunSaySo() {
        Map<BenchReport.Load, Map<String, List<BenchReport.LoadSample>>> onlyC8 = new LinkedHashMap<>();
        onlyC8.put(new BenchReport.Load(8, false), new LinkedHashMap<>(Map.of(DIRECT, List.of(load(1000, 5, 9, Double.NaN)))));
        List<BenchReport.Target> targets = BenchReport.targets(BenchReport.loadRows(onlyC8, MODES), List.of(), TECHNIQUES, null, 2);
        assertEquals(List.of("not measured", "not measured", "not measured", "not measured", "not measured", "see bench-cni"),
                targets.stream().map(BenchReport.Target::verdict).toList());
        assertEquals("measured by ./shunt bench-cni", targets.getLast().detail());
    }

    @Test
    void theTableHasOneRowPerModeAndLoadThenBulkThenMemoryThenTargets() {
        List<BenchReport.LoadRow> loads = BenchReport.loadRows(fullRun(), MODES);
        List<BenchReport.BulkRow> bulk = BenchReport.bulkRows(bulkRun(20, 18, 10), MODES);
        List<BenchReport.MemoryRow> memory = List.of(new BenchReport.MemoryRow("agent", 42, 204_800, 150_000),
                new BenchReport.MemoryRow(HAPROXY, 43, 15_462, 4_403));
        String table = BenchReport.render(loads, bulk, memory, BenchReport.targets(loads, bulk, TECHNIQUES, memory.getFirst(), 2));
        List<String> lines = table.lines().toList();
        assertEquals("mode      load                  req/s   p50 us   p99 us  +p50 us  x direct  x haproxy  proxy CPU s/1k req",
                lines.get(0));
        assertEquals("direct    keep-alive c=32     200,000       60      100                         2.50x                   -",
                lines.get(6));
        assertEquals("tproxy    keep-alive c=32     100,000      150      300      +90     0.50x      1.25x              0.0025",
                lines.get(8));
        assertTrue(table.contains("redirect  pod -> upstream       18.00     0.90x      1.80x               0.200        7"), table);
        assertTrue(table.contains("RSS at the end: haproxy  VmRSS    15.1 MiB, RssAnon     4.3 MiB (pid 43)"), table);
        assertTrue(table.contains("  [met]           best technique at 32 connections >= 1.2x HAProxy+REDIRECT  tproxy 1.25x"), table);
    }

    @Test
    void aLongerModeWidensTheModeColumnOfEveryRow() {
        Map<BenchReport.Load, Map<String, List<BenchReport.LoadSample>>> samples = new LinkedHashMap<>();
        Map<String, List<BenchReport.LoadSample>> byMode = new LinkedHashMap<>();
        byMode.put(DIRECT, List.of(load(1000, 5, 9, Double.NaN)));
        byMode.put("a-longer-mode", List.of(load(500, 10, 20, 1.0)));
        samples.put(new BenchReport.Load(1, false), byMode);
        List<BenchReport.LoadRow> loads = BenchReport.loadRows(samples, List.of(DIRECT, "a-longer-mode"));
        List<BenchReport.MemoryRow> memory = List.of(new BenchReport.MemoryRow("agent", 42, 204_800, 150_000),
                new BenchReport.MemoryRow("sockmap agent", 44, 102_400, 90_000));
        List<String> lines = BenchReport.render(loads, List.of(), memory, List.of()).lines().toList();
        assertTrue(lines.get(0).startsWith("mode          load "), lines.get(0));
        assertTrue(lines.get(1).startsWith("direct        keep-alive c=1 "), lines.get(1));
        assertTrue(lines.get(2).startsWith("a-longer-mode keep-alive c=1 "), lines.get(2));
        assertTrue(lines.contains("RSS at the end: sockmap agent VmRSS   100.0 MiB, RssAnon    87.9 MiB (pid 44)"), lines.toString());
    }

    @Test
    void aTechniqueWhoseRunsFailedKeepsARowThatSaysSoAndIsLeftOutOfTheTargets() {
        String upFailed = "iperf3 from pod-d failed: unable to write to stream socket: Cannot allocate memory";
        Map<String, Map<String, List<BenchReport.BulkSample>>> samples = new LinkedHashMap<>();
        Map<String, List<BenchReport.BulkSample>> up = new LinkedHashMap<>();
        up.put(DIRECT, List.of(bulk(20, Double.NaN)));
        up.put("sockmap", List.of());
        up.put(HAPROXY, List.of(bulk(10, 2)));
        samples.put(BenchReport.UPLOAD, up);
        Map<String, List<BenchReport.BulkSample>> down = new LinkedHashMap<>();
        down.put(DIRECT, List.of(bulk(20, Double.NaN)));
        down.put("sockmap", List.of(bulk(18, 2), bulk(16, 2)));
        samples.put(BenchReport.DOWNLOAD, down);
        List<String> modes = List.of(DIRECT, "sockmap", HAPROXY);
        List<BenchReport.BulkRow> rows = BenchReport.bulkRows(samples, Map.of(BenchReport.UPLOAD,
                Map.of("sockmap", List.of(upFailed)), BenchReport.DOWNLOAD,
                Map.of("sockmap", List.of("second"))), modes);
        assertEquals(5, rows.size(), rows.toString());
        BenchReport.BulkRow failed = rows.get(1);
        assertEquals(0, failed.samples());
        assertEquals(1, failed.failedRuns());
        assertEquals(upFailed, failed.failure());
        assertNull(failed.xDirect());
        assertEquals(1, rows.get(4).failedRuns(), "one of three runs failed, two were measured");
        assertEquals(17, rows.get(4).gbitPerS(), 1e-9);

        List<BenchReport.Target> targets = BenchReport.targets(List.of(), rows, List.of("sockmap"), null, 1);
        assertEquals("not measured", targets.get(3).verdict(), "no technique has an upload figure");
        assertTrue(targets.get(4).detail().startsWith("sockmap 0.85x direct"), targets.get(4).detail());

        List<String> lines = BenchReport.render(List.of(), rows, List.of(), targets).lines().toList();
        assertTrue(lines.contains("sockmap   pod -> upstream 1 run FAILED, first: " + upFailed), lines.toString());
        assertTrue(lines.contains("          and 1 run FAILED, first: second"), lines.toString());
    }

    /** One round: direct, redirect, tproxy and HAProxy at c=1, c=32 and new connections at c=32. */
    private static Map<BenchReport.Load, Map<String, List<BenchReport.LoadSample>>> fullRun() {
        Map<BenchReport.Load, Map<String, List<BenchReport.LoadSample>>> samples = new LinkedHashMap<>();
        samples.put(C1, modes(load(100_000, 8, 20, Double.NaN), load(50_000, 14, 40, 0.5), load(60_000, 17, 35, 0.6),
                load(40_000, 13, 90, 0.4)));
        samples.put(C32, modes(load(200_000, 60, 100, Double.NaN), load(90_000, 160, 320, 0.45), load(100_000, 150, 300, 0.5),
                load(80_000, 170, 400, 0.6)));
        samples.put(NEW32, modes(load(50_000, 500, 900, Double.NaN), load(15_000, 2000, 6000, 2.0),
                load(14_000, 2100, 5000, 2.0), load(35_000, 900, 2000, 1.0)));
        return samples;
    }

    private static Map<String, List<BenchReport.LoadSample>> modes(BenchReport.LoadSample direct, BenchReport.LoadSample redirect,
                                                                   BenchReport.LoadSample tproxy, BenchReport.LoadSample haproxy) {
        Map<String, List<BenchReport.LoadSample>> byMode = new LinkedHashMap<>();
        byMode.put(DIRECT, List.of(direct));
        byMode.put("redirect", List.of(redirect));
        byMode.put("tproxy", List.of(tproxy));
        byMode.put(HAPROXY, List.of(haproxy));
        return byMode;
    }

    private static Map<String, Map<String, List<BenchReport.BulkSample>>> bulkRun(double direct, double redirect, double haproxy) {
        Map<String, Map<String, List<BenchReport.BulkSample>>> samples = new LinkedHashMap<>();
        for (String direction : List.of(UPLOAD, DOWNLOAD)) {
            Map<String, List<BenchReport.BulkSample>> byMode = new LinkedHashMap<>();
            byMode.put(DIRECT, List.of(bulk(direct, Double.NaN)));
            byMode.put("redirect", List.of(bulk(redirect, 2.0)));
            byMode.put("tproxy", List.of(bulk(redirect / 2, 2.0)));
            byMode.put(HAPROXY, List.of(bulk(haproxy, 1.0)));
            samples.put(direction, byMode);
        }
        return samples;
    }

    /** A run of 2 s: requests = rate x 2. */
    private static BenchReport.LoadSample load(double rps, double p50, double p99, double cpu) {
        return new BenchReport.LoadSample(new WrkResult((long) (rps * 2), rps, p50, p99, 0), cpu);
    }

    /** 10 GB in every run, whatever the rate, so CPU per GB is cpu / 10. */
    private static BenchReport.BulkSample bulk(double gbit, double cpu) {
        return new BenchReport.BulkSample(new Iperf3.Result(gbit * 1e9, 10_000_000_000L, 7), cpu);
    }

    private static BenchReport.LoadRow row(List<BenchReport.LoadRow> rows, String mode, BenchReport.Load load) {
        return rows.stream().filter(r -> r.mode().equals(mode) && r.load().equals(load.label())).findFirst().orElseThrow();
    }
}
