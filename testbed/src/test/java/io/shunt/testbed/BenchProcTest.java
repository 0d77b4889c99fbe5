package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading a proxy's CPU time and memory from /proc text. */
class BenchProcTest {
    /** A real haproxy line: utime 1234 and stime 766 ticks are fields 14 and 15. */
    private static final String HAPROXY_STAT = "22027 (haproxy) S 21950 22027 21950 0 -1 4194560 1530 0 0 0 1234 766 0 0"
            + " 20 0 2 0 1052345 22990848 3866 18446744073709551615 1 1 0 0 0 0 0 4096 16897 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    @Test
    void cpuSecondsAreUserPlusSystemTicksOverOneHundred() {
        assertEquals(20.0, BenchProc.cpuSeconds(HAPROXY_STAT), 1e-9);
    }

    @Test
    void aCommandNameWithSpacesAndParenthesesDoesNotShiftTheFields() {
        String stat = "4242 (java (main) x) S 1 4242 1 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 40 0 1 1 1 1\n";
        assertEquals(3.0, BenchProc.cpuSeconds(stat), 1e-9);
    }

    @Test
    void aTruncatedLineIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> BenchProc.cpuSeconds("4242 (x) S 1 2 3"));
        assertThrows(IllegalArgumentException.class, () -> BenchProc.cpuSeconds("no parenthesis"));
    }

    @Test
    void memoryIsVmRssAndRssAnon() {
        String status = "Name:\thaproxy\nVmPeak:\t  30000 kB\nVmRSS:\t   15462 kB\nRssAnon:\t    4403 kB\nRssFile:\t   11059 kB\n";
        assertEquals(new BenchProc.Memory(15462, 4403), BenchProc.memory(status));
    }

    @Test
    void theLoadAverageIsTheFirstThreeFields() {
        assertEquals("6.24 2.45 1.69", BenchProc.loadAverage("6.24 2.45 1.69 3/412 28052\n"));
        assertThrows(IllegalArgumentException.class, () -> BenchProc.loadAverage("6.24"));
    }

    @Test
    void thisProcessCanBeRead() throws IOException {
        long self = ProcessHandle.current().pid();
        assertTrue(BenchProc.cpuSeconds(self) > 0);
        assertTrue(BenchProc.memory(self).vmRssKib() > 0);
        assertEquals("java", BenchProc.command(self));
    }
}
