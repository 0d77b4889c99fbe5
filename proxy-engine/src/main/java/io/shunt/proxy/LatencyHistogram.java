package io.shunt.proxy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * How long something took, counted in fixed buckets. Recording runs on event loops, once per
 * connection: it scans at most 16 longs and adds to two {@link LongAdder}s, and allocates nothing.
 * Reading adds the adders up and may run on any thread.
 */
public final class LatencyHistogram {
    /**
     * Inclusive upper bounds of the buckets, ascending; one more bucket holds everything above the
     * last. The seconds at the end are there because a lost SYN is retransmitted after 1 s, then
     * 2 s, then 4 s: such connects land near 1, 3 and 7 s instead of all in the overflow bucket.
     */
    private static final long[] BOUNDS_NANOS = {
            50_000, 100_000, 250_000, 500_000,
            1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000, 100_000_000, 250_000_000,
            1_000_000_000, 2_500_000_000L, 5_000_000_000L, 10_000_000_000L};

    /** The buckets' inclusive upper bounds, without the unbounded last one. */
    public static final List<Duration> UPPER_BOUNDS = Arrays.stream(BOUNDS_NANOS).mapToObj(Duration::ofNanos).toList();

    private final LongAdder[] buckets = new LongAdder[BOUNDS_NANOS.length + 1];
    private final LongAdder sumNanos = new LongAdder();

    public LatencyHistogram() {
        for (int i = 0; i < buckets.length; i++) {
            buckets[i] = new LongAdder();
        }
    }

    /** Counts one duration, in nanoseconds; a negative one counts as zero. */
    public void record(long nanos) {
        long value = Math.max(0, nanos);
        int i = 0;
        while (i < BOUNDS_NANOS.length && value > BOUNDS_NANOS[i]) {
            i++;
        }
        buckets[i].increment();
        sumNanos.add(value);
    }

    /**
     * The counts now. Each bucket is read once, so the total is always the sum of the buckets even
     * while values are being recorded; the sum of durations may lag or lead them by a value or two.
     */
    public Snapshot snapshot() {
        List<Long> counts = new ArrayList<>(buckets.length);
        for (LongAdder bucket : buckets) {
            counts.add(bucket.sum());
        }
        return new Snapshot(UPPER_BOUNDS, counts, sumNanos.sum());
    }

    /**
     * @param upperBounds  the buckets' inclusive upper bounds, ascending, without the unbounded last bucket
     * @param bucketCounts values per bucket (not cumulative), one more than {@code upperBounds}: the
     *                     last counts the values above every bound
     * @param sumNanos     all values added up, in nanoseconds
     */
    public record Snapshot(List<Duration> upperBounds, List<Long> bucketCounts, long sumNanos) {
        public Snapshot {
            upperBounds = List.copyOf(upperBounds);
            bucketCounts = List.copyOf(bucketCounts);
            if (bucketCounts.size() != upperBounds.size() + 1) {
                throw new IllegalArgumentException("a histogram with " + upperBounds.size() + " bounds needs "
                        + (upperBounds.size() + 1) + " bucket counts (the last for values above every bound), got "
                        + bucketCounts.size());
            }
        }

        /** How many values were recorded. */
        public long count() {
            long total = 0;
            for (long c : bucketCounts) {
                total += c;
            }
            return total;
        }

        /** Values at or below bound {@code index}; {@code upperBounds().size()} gives {@link #count()}. */
        public long cumulativeCount(int index) {
            long total = 0;
            for (int i = 0; i <= index; i++) {
                total += bucketCounts.get(i);
            }
            return total;
        }
    }
}
