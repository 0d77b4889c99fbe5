package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** bench-cni without a kernel: its command line, the per-pod arithmetic, reading the agent's log. */
class CniBenchTest {

    @Test
    void defaultsAre200PodsSampledAt1And50And200() {
        CniBench.Options o = CniBench.Options.parse();
        assertEquals(200, o.pods());
        assertEquals(List.of(1, 50, 200), o.levels());
        assertEquals("auto", o.transport());
        assertEquals("auto", o.technique());
        assertEquals(Duration.ofSeconds(900), o.timeLimit());
        assertEquals(Path.of("target/bench-cni.json"), o.json());
    }

    @Test
    void defaultLevelsFollowThePodCount() {
        assertEquals(List.of(1, 20), CniBench.Options.parse("--pods", "20").levels());
        assertEquals(List.of(1), CniBench.Options.parse("--pods", "1").levels());
        assertEquals(List.of(1, 50, 200, 500), CniBench.Options.parse("--pods", "500").levels());
    }

    @Test
    void givenLevelsAreSortedDeduplicatedAndMayIncludeZero() {
        CniBench.Options o = CniBench.Options.parse("--pods", "100", "--memory-at", "100, 0,10,10",
                "--transport", "nio", "--technique", "redirect,tproxy", "--time-limit", "120", "--json", "x.json");
        assertEquals(List.of(0, 10, 100), o.levels());
        assertEquals("nio", o.transport());
        assertEquals("redirect,tproxy", o.technique());
        assertEquals(Duration.ofSeconds(120), o.timeLimit());
        assertEquals(Path.of("x.json"), o.json());
    }

    @Test
    void helpIsNull() {
        assertNull(CniBench.Options.parse("--pods", "3", "--help"));
        assertNull(CniBench.Options.parse("-h"));
    }

    @Test
    void badValuesAreRejectedNamingTheOptionAndWhatIsAllowed() {
        assertMessage("--pods 0: give a whole number from 1 to 500", "--pods", "0");
        assertMessage("--pods 501: give a whole number from 1 to 500", "--pods", "501");
        assertMessage("--pods many: give a whole number from 1 to 500", "--pods", "many");
        assertMessage("--memory-at 1,250: 250 is outside 0..200", "--memory-at", "1,250");
        assertMessage("'x' is not a pod count", "--memory-at", "1,x");
        assertMessage("--time-limit 5: give a whole number from 60 to 3600", "--time-limit", "5");
        assertMessage("--transport 'io uring'", "--transport", "io uring");
        assertMessage("unknown argument '--pod'", "--pod", "3");
        assertMessage("--pods needs a value", "--pods");
    }

    @Test
    void perPodIncreaseIsBetweenTheTwoHighestLevels() {
        CniBench.PerPod perPod = CniBench.perPod(Map.of(
                1, new ProcessFootprint(100_000, 80_000, 20_000, 20, 50, -1),
                50, new ProcessFootprint(110_000, 90_000, 20_000, 70, 250, -1),
                200, new ProcessFootprint(140_000, 120_000, 20_000, 220, 850, -1)));
        assertEquals(new CniBench.PerPod(50, 200, 200, 200, 4, 1), perPod);
        assertNull(CniBench.perPod(Map.of(1, new ProcessFootprint(1, 1, 0, 1, 1, -1))));
    }

    @Test
    void agentSideTimesComeFromTheAgentsOkLinesOfOneCommand() {
        List<String> log = List.of(
                "2026-11-22T01:53:13.892Z [INFO] CniEndpoint - pod=bench/pod-9 CNI ADD container=96320a73501b ok technique=tproxy in 33 ms",
                "2026-11-22T01:53:14.194Z [INFO] CniEndpoint - pod=bench/pod-10 CNI ADD container=5c8b524ae229 ok technique=tproxy in 72 ms",
                "2026-11-22T01:53:14.200Z [WARN] CniEndpoint - pod=bench/pod-11 CNI ADD container=5c8b524ae229 failed code=11: starting in 5 ms",
                "2026-11-22T01:53:15.100Z [INFO] CniEndpoint - pod=bench/pod-9 CNI DEL container=96320a73501b ok technique=tproxy in 20 ms",
                "2026-11-22T01:53:15.200Z [INFO] CniEndpoint - pod=bench/pod-99 CNI DEL container=000000000000 ok in 1 ms",
                "2026-11-22T01:53:13.881Z [INFO] NodeAgent - pod=bench/pod-9 technique=tproxy intercepted: netns=/x");
        assertEquals(List.of(33_000_000L, 72_000_000L), boxed(CniBench.agentSideNanos(log, "ADD")));
        assertEquals(List.of(20_000_000L, 1_000_000L), boxed(CniBench.agentSideNanos(log, "DEL")));
    }

    private static List<Long> boxed(long[] values) {
        return Arrays.stream(values).boxed().toList();
    }

    private static void assertMessage(String expected, String... args) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CniBench.Options.parse(args));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
