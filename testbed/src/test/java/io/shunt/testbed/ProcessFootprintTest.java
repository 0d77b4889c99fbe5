package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProcessFootprintTest {
    private static final String STATUS = """
            Name:\tjava
            Threads:\t32
            VmRSS:\t  155424 kB
            RssAnon:\t  127060 kB
            RssFile:\t   28364 kB
            RssShmem:\t       0 kB
            """;

    @Test
    void statusFieldsAreReadByName() {
        assertEquals(155_424, ProcessFootprint.field(STATUS, "VmRSS"));
        assertEquals(127_060, ProcessFootprint.field(STATUS, "RssAnon"));
        assertEquals(32, ProcessFootprint.field(STATUS, "Threads"));
        assertThrows(IllegalArgumentException.class, () -> ProcessFootprint.field(STATUS, "VmSwap"));
    }

    @Test
    void heapUsedSumsSurvivorEdenAndOldColumnsFoundByName() {
        // jstat -gc of a JDK 25 G1 JVM.
        String g1 = """
                    S0C         S1C         S0U         S1U          EC           EU           OC           OU          MC         MU       CCSC      CCSU     YGC     YGCT     FGC    FGCT     CGC    CGCT       GCT
                        0.0      4096.0         0.0      3264.0     167936.0       4096.0     221184.0       1166.7     8640.0     8438.6    1088.0    1002.3      1     0.004     0     0.000     0     0.000     0.004
                """;
        assertEquals(Math.round(3264.0 + 4096.0 + 1166.7), ProcessFootprint.heapUsedKib(g1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ProcessFootprint.heapUsedKib("12345 not found\n"));
        assertTrue(e.getMessage().contains("no figures"), e.getMessage());
    }

    @Test
    void thisProcessCanBeSampledWithoutJstat() throws IOException {
        ProcessFootprint f = ProcessFootprint.of(ProcessHandle.current().pid(), null);
        assertTrue(f.vmRssKib() > 0 && f.rssAnonKib() > 0 && f.threads() > 0 && f.openFds() > 2, f.toString());
        assertEquals(-1, f.heapUsedKib());
    }
}
