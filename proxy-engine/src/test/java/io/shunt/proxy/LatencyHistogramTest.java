package io.shunt.proxy;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatencyHistogramTest {
    private static final int INF = LatencyHistogram.UPPER_BOUNDS.size();

    @Test
    void boundsAreAscendingFromFiftyMicrosecondsToTenSeconds() {
        List<Duration> bounds = LatencyHistogram.UPPER_BOUNDS;
        assertEquals(Duration.ofNanos(50_000), bounds.getFirst());
        assertEquals(Duration.ofSeconds(10), bounds.getLast());
        for (int i = 1; i < bounds.size(); i++) {
            assertTrue(bounds.get(i).compareTo(bounds.get(i - 1)) > 0, "bound " + i + " of " + bounds);
        }
    }

    @Test
    void aValueEqualToABoundCountsInThatBucketAndOneNanosecondMoreInTheNext() {
        LatencyHistogram h = new LatencyHistogram();
        h.record(50_000);
        h.record(50_001);
        h.record(1_000_000_000);
        LatencyHistogram.Snapshot s = h.snapshot();
        assertEquals(1, s.bucketCounts().get(bucketOf(Duration.ofNanos(50_000))));
        assertEquals(1, s.bucketCounts().get(bucketOf(Duration.ofNanos(100_000))));
        assertEquals(1, s.bucketCounts().get(bucketOf(Duration.ofSeconds(1))));
        assertEquals(3, s.count());
        assertEquals(50_000 + 50_001 + 1_000_000_000L, s.sumNanos());
    }

    @Test
    void zeroAndNegativeValuesCountInTheFirstBucketAsZero() {
        LatencyHistogram h = new LatencyHistogram();
        h.record(0);
        h.record(-5);
        LatencyHistogram.Snapshot s = h.snapshot();
        assertEquals(2, s.bucketCounts().getFirst());
        assertEquals(0, s.sumNanos());
    }

    @Test
    void valuesAboveTheLastBoundCountOnlyInTheUnboundedBucket() {
        LatencyHistogram h = new LatencyHistogram();
        h.record(10_000_000_001L);
        h.record(Long.MAX_VALUE / 4);
        LatencyHistogram.Snapshot s = h.snapshot();
        assertEquals(2, s.bucketCounts().get(INF));
        assertEquals(0, s.cumulativeCount(INF - 1));
        assertEquals(2, s.cumulativeCount(INF));
    }

    @Test
    void cumulativeCountsGrowUpToTheTotal() {
        LatencyHistogram h = new LatencyHistogram();
        long[] values = {10_000, 60_000, 60_000, 3_000_000, 300_000_000, 20_000_000_000L};
        for (long v : values) {
            h.record(v);
        }
        LatencyHistogram.Snapshot s = h.snapshot();
        assertEquals(1, s.cumulativeCount(bucketOf(Duration.ofNanos(50_000))));
        assertEquals(3, s.cumulativeCount(bucketOf(Duration.ofNanos(100_000))));
        assertEquals(4, s.cumulativeCount(bucketOf(Duration.ofMillis(5))));
        assertEquals(5, s.cumulativeCount(bucketOf(Duration.ofSeconds(1))));
        assertEquals(values.length, s.cumulativeCount(INF));
        assertEquals(values.length, s.count());
    }

    @Test
    void anEmptyHistogramHasAZeroForEveryBucket() {
        LatencyHistogram.Snapshot s = new LatencyHistogram().snapshot();
        assertEquals(INF + 1, s.bucketCounts().size());
        assertEquals(0, s.count());
        assertEquals(0, s.sumNanos());
    }

    @Test
    void aSnapshotNeedsOneCountMoreThanBounds() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LatencyHistogram.Snapshot(List.of(Duration.ofMillis(1)), List.of(1L), 0));
        assertEquals("a histogram with 1 bounds needs 2 bucket counts (the last for values above every bound), got 1",
                e.getMessage());
    }

    private static int bucketOf(Duration bound) {
        int i = LatencyHistogram.UPPER_BOUNDS.indexOf(bound);
        if (i < 0) {
            throw new AssertionError(bound + " is not a bound of " + LatencyHistogram.UPPER_BOUNDS);
        }
        return i;
    }
}
