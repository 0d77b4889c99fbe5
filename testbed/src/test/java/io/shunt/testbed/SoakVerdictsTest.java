package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The soak's slope and verdicts, on made-up series. */
class SoakVerdictsTest {

    @Test
    void slopeOfALineIsItsGradientWhateverTheOffset() {
        double[] minutes = {5, 6, 7, 8, 9, 10};
        double[] mib = new double[minutes.length];
        for (int i = 0; i < minutes.length; i++) {
            mib[i] = 300 + 2.5 * minutes[i];
        }
        assertEquals(2.5, SoakVerdicts.slope(minutes, mib), 1e-9);
    }

    @Test
    void slopeIsTheLeastSquaresFitNotTheEndpoints() {
        // A spike in the middle of a symmetric series leaves the fit level.
        double[] x = {0, 1, 2, 3, 4};
        double[] y = {10, 10, 20, 10, 10};
        assertEquals(0, SoakVerdicts.slope(x, y), 1e-9);
        // y = 1, 2, 2, 4: mean x 1.5, mean y 2.25; sxy = 1.5*1.25 + 0.5*0.25 - 0.5*0.25 + 1.5*1.75 = 4.5; sxx = 5.
        assertEquals(0.9, SoakVerdicts.slope(new double[]{0, 1, 2, 3}, new double[]{1, 2, 2, 4}), 1e-9);
        assertEquals(-1, SoakVerdicts.slope(new double[]{1, 2}, new double[]{5, 4}), 1e-9);
    }

    @Test
    void slopeNeedsTwoDistinctTimes() {
        assertTrue(Double.isNaN(SoakVerdicts.slope(new double[]{1}, new double[]{1})));
        assertTrue(Double.isNaN(SoakVerdicts.slope(new double[]{}, new double[]{})));
        assertTrue(Double.isNaN(SoakVerdicts.slope(new double[]{2, 2}, new double[]{1, 3})));
        assertThrows(IllegalArgumentException.class, () -> SoakVerdicts.slope(new double[]{1, 2}, new double[]{1}));
    }

    @Test
    void secondHalfStartsAtHalfTheRunIncludingASampleExactlyThere() {
        double[] minutes = {1.0 / 6, 2.0 / 6, 0.5, 4.0 / 6, 5.0 / 6, 1.0};
        assertEquals(List.of(2, 3, 4, 5), SoakVerdicts.secondHalf(minutes, 1));
        // Samples a little late (the sampler woke up after its slot) are still in.
        assertEquals(List.of(1, 2), SoakVerdicts.secondHalf(new double[]{4.99, 5.004, 10.01}, 10));
        assertEquals(List.of(), SoakVerdicts.secondHalf(new double[]{1, 2}, 10));
    }

    @Test
    void memoryIsFlatUpToTheLimitAndWhenShrinking() {
        SoakVerdicts.Verdict flat = SoakVerdicts.memory(0.4, 30, 1.0);
        assertTrue(flat.ok());
        assertEquals("memory flat: yes (slope +0.40 MiB/min over the second half, 30 samples; limit 1.00)", flat.line());
        assertTrue(SoakVerdicts.memory(-3, 30, 1.0).ok());
        assertTrue(SoakVerdicts.memory(1.0, 30, 1.0).ok());

        SoakVerdicts.Verdict growing = SoakVerdicts.memory(1.26, 30, 1.0);
        assertFalse(growing.ok());
        assertEquals("memory flat: no (slope +1.26 MiB/min over the second half, 30 samples; limit 1.00)", growing.line());

        SoakVerdicts.Verdict unknown = SoakVerdicts.memory(Double.NaN, 1, 1.0);
        assertFalse(unknown.ok());
        assertTrue(unknown.line().startsWith("memory flat: unknown"), unknown.line());
    }

    @Test
    void fdsWithinTheMarginsAreNoLeak() {
        SoakVerdicts.Verdict v = SoakVerdicts.fds(679, 10_681, 10_692, 681, 32, 8);
        assertTrue(v.ok(), v.line());
        assertEquals("fd leak: none (after warm-up 10681, at the end 10692 (+11, allowed ±32); after closing every"
                + " connection 681, idle before the run 679 (+2, allowed +8))", v.line());
        // Fewer fds after closing than before is fine: something lazily opened at start was closed.
        assertTrue(SoakVerdicts.fds(679, 10_681, 10_681, 600, 32, 8).ok());
    }

    @Test
    void fdsNotGivenBackOrDriftingAreALeak() {
        SoakVerdicts.Verdict kept = SoakVerdicts.fds(679, 10_681, 10_690, 700, 32, 8);
        assertFalse(kept.ok());
        assertTrue(kept.line().startsWith("fd leak: 21 fds not given back after every connection closed ("), kept.line());

        SoakVerdicts.Verdict grew = SoakVerdicts.fds(679, 10_681, 10_800, 680, 32, 8);
        assertFalse(grew.ok());
        assertTrue(grew.line().startsWith("fd leak: fds grew by 119 under steady load ("), grew.line());

        SoakVerdicts.Verdict shrank = SoakVerdicts.fds(679, 10_681, 10_600, 680, 32, 8);
        assertFalse(shrank.ok());
        assertTrue(shrank.line().startsWith("fd leak: fds shrank by 81 under steady load ("), shrank.line());

        SoakVerdicts.Verdict both = SoakVerdicts.fds(679, 10_681, 10_800, 800, 32, 8);
        assertFalse(both.ok());
        assertTrue(both.line().startsWith("fd leak: fds grew under load and were not given back ("), both.line());
    }
}
