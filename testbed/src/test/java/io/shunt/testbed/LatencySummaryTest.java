package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LatencySummaryTest {

    @Test
    void percentilesAreByNearestRankOverUnsortedInput() {
        // 1..200 ms, shuffled by reversal: p50 is the 100th value, p90 the 180th, p99 the 198th.
        long[] nanos = LongStream.rangeClosed(1, 200).map(i -> (201 - i) * 1_000_000).toArray();
        assertEquals(new LatencySummary(200, 100, 180, 198, 200), LatencySummary.ofNanos(nanos));
        assertEquals(200_000_000, nanos[0], "the input is left as it was");
    }

    @Test
    void fewValuesGiveMeasuredOnes() {
        assertEquals(new LatencySummary(1, 7.5, 7.5, 7.5, 7.5), LatencySummary.ofNanos(new long[]{7_500_000}));
        // Of 8 values, p90 and p99 are both the largest: nearest rank never invents a value in between.
        long[] eight = {1, 2, 3, 4, 5, 6, 7, 8};
        assertEquals(4, LatencySummary.percentile(eight, 50));
        assertEquals(8, LatencySummary.percentile(eight, 90));
        assertEquals(8, LatencySummary.percentile(eight, 99));
        assertEquals(1, LatencySummary.percentile(eight, 0.1));
    }

    @Test
    void nothingToSummariseOrABadPercentileIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> LatencySummary.ofNanos(new long[0]));
        assertThrows(IllegalArgumentException.class, () -> LatencySummary.percentile(new long[]{1}, 0));
        assertThrows(IllegalArgumentException.class, () -> LatencySummary.percentile(new long[]{1}, 101));
    }

    @Test
    void millisecondsAreRoundedToTheMicrosecond() {
        assertEquals(81.908, LatencySummary.ms(81_907_598));
    }
}
