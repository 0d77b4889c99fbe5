package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading /proc, jstat and the agent's metrics for the soak. */
class SoakProcTest {

    @Test
    void cpuTicksAreUtimePlusStimeCountedFromTheLastParenthesis() {
        // A command name with a space and a parenthesis of its own: fields must be counted after the last ')'.
        String stat = "1908 (java (x) y) S 1 1908 1 0 -1 4194560 50000 0 12 0 1234 567 0 0 20 0 25 0 100 0 0";
        assertEquals(1234 + 567, SoakProc.cpuTicks(stat));
        assertThrows(IllegalArgumentException.class, () -> SoakProc.cpuTicks("no parenthesis here"));
        assertThrows(IllegalArgumentException.class, () -> SoakProc.cpuTicks("1 (java) S 1 2"));
    }

    @Test
    void thisProcessHasCpuTimeAndAnOpenFilesLimit() throws IOException {
        long pid = ProcessHandle.current().pid();
        assertTrue(SoakProc.cpuSeconds(pid) > 0);
        SoakProc.FileLimit limit = SoakProc.openFilesLimit(pid);
        assertTrue(limit.soft() > 0 || limit.soft() == -1, limit.toString());
    }

    @Test
    void fdKindsGroupSocketsAndPipesButKeepAnonInodesAndPaths() throws IOException {
        assertEquals("socket", SoakProc.fdKind("socket:[4711]"));
        assertEquals("pipe", SoakProc.fdKind("pipe:[99]"));
        assertEquals("anon_inode:[io_uring]", SoakProc.fdKind("anon_inode:[io_uring]"));
        assertEquals("anon_inode:[eventfd]", SoakProc.fdKind("anon_inode:[eventfd]"));
        assertEquals("/run/netns/shunt-soak-1a2b-pod-a", SoakProc.fdKind("/run/netns/shunt-soak-1a2b-pod-a"));
        Map<String, Integer> mine = SoakProc.fdKinds(ProcessHandle.current().pid());
        assertTrue(mine.values().stream().mapToInt(Integer::intValue).sum() > 2, mine.toString());
    }

    @Test
    void differenceListsOnlyKindsThatChanged() {
        assertEquals(Map.of("socket", 2, "pipe", -1, "anon_inode:[eventfd]", 1),
                SoakProc.difference(Map.of("socket", 400, "pipe", 3, "/x.jar", 1),
                        Map.of("socket", 402, "pipe", 2, "/x.jar", 1, "anon_inode:[eventfd]", 1)));
        assertEquals(Map.of(), SoakProc.difference(Map.of("socket", 1), Map.of("socket", 1)));
    }

    @Test
    void loadAverageIsTheFirstFieldOfLoadavg() {
        assertEquals(4.02, SoakProc.loadAverage("4.02 4.28 4.08 3/412 31817\n"));
        assertTrue(SoakProc.loadAverage() >= 0);
    }

    @Test
    void openFilesLimitIsReadFromItsLine() {
        String limits = """
                Limit                     Soft Limit           Hard Limit           Units
                Max cpu time              unlimited            unlimited            seconds
                Max open files            20000                524288               files
                Max locked memory         8388608              8388608              bytes
                """;
        assertEquals(new SoakProc.FileLimit(20_000, 524_288), SoakProc.openFilesLimit(limits));
        assertEquals(new SoakProc.FileLimit(-1, -1),
                SoakProc.openFilesLimit("Max open files            unlimited            unlimited            files\n"));
        assertThrows(IllegalArgumentException.class, () -> SoakProc.openFilesLimit("Max processes 1 1 processes\n"));
    }

    @Test
    void aLimitAllowsWhatFitsUnderItsSoftValue() {
        assertTrue(SoakProc.allows(new SoakProc.FileLimit(20_000, 20_000), 11_000));
        assertTrue(SoakProc.allows(new SoakProc.FileLimit(11_000, 11_000), 11_000));
        assertFalse(SoakProc.allows(new SoakProc.FileLimit(1024, 524_288), 11_000));
        assertTrue(SoakProc.allows(new SoakProc.FileLimit(-1, -1), 11_000));
    }

    @Test
    void heapFiguresComeFromJstatColumnsByName() {
        String g1 = """
                    S0C         S1C         S0U         S1U          EC           EU           OC           OU          MC         MU       CCSC      CCSU     YGC     YGCT     FGC    FGCT     CGC    CGCT       GCT
                        0.0      4096.0         0.0      3264.0     167936.0       4096.0     221184.0       1166.7     8640.0     8438.6    1088.0    1002.3      1     0.004     0     0.000     0     0.000     0.004
                """;
        SoakProc.Heap heap = SoakProc.heap(g1);
        assertEquals(Math.round(3264.0 + 4096.0 + 1166.7), heap.usedKib());
        assertEquals(Math.round(0.0 + 4096.0 + 167936.0 + 221184.0), heap.committedKib());
        assertEquals(Math.round(1166.7), heap.oldUsedKib());
        assertThrows(IllegalArgumentException.class, () -> SoakProc.heap("  S0C  S1C\n  1.0  2.0\n"));
        assertEquals(SoakProc.Heap.UNKNOWN, SoakProc.heap(null, 1));
    }

    @Test
    void metricsAreSummedOverPodsByExactName() {
        String exposition = """
                # HELP shunt_connections_active Connections of the pod the proxy holds open now.
                # TYPE shunt_connections_active gauge
                shunt_connections_active{pod="pod-a",technique="tproxy"} 193
                shunt_connections_active{pod="idle-0",technique="tproxy"} 0
                shunt_connections_active{pod="pod-b",technique="redirect"} 7
                # TYPE shunt_connections_active_peak gauge
                shunt_connections_active_peak{pod="pod-a",technique="tproxy"} 1000
                shunt_connections_accepted_total{pod="pod-a",technique="tproxy"} 120345
                shunt_upstream_connect_seconds_sum{pod="pod-a",technique="tproxy"} 0.5
                shunt_agent_ready 1
                """;
        assertEquals(200, SoakProc.sum(exposition, "shunt_connections_active"));
        assertEquals(120_345, SoakProc.sum(exposition, "shunt_connections_accepted_total"));
        assertEquals(1, SoakProc.sum(exposition, "shunt_agent_ready"));
        assertEquals(-1, SoakProc.sum(exposition, "shunt_connections_shed_total"));
        assertEquals(-1, SoakProc.sum("", "shunt_connections_active"));
    }
}
