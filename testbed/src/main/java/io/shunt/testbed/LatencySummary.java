package io.shunt.testbed;

import java.util.Arrays;

/**
 * Median, p90, p99 and maximum of a set of durations, in milliseconds. Percentiles are by nearest
 * rank (the smallest value with at least p% of the values at or below it), so every figure is one
 * call that was actually measured, also for the few hundred calls of a CNI bench where p99 is
 * only the second or third largest.
 */
public record LatencySummary(int count, double medianMs, double p90Ms, double p99Ms, double maxMs) {

    public static LatencySummary ofNanos(long[] nanos) {
        if (nanos.length == 0) {
            throw new IllegalArgumentException("no durations to summarise");
        }
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        return new LatencySummary(sorted.length, ms(percentile(sorted, 50)), ms(percentile(sorted, 90)),
                ms(percentile(sorted, 99)), ms(sorted[sorted.length - 1]));
    }

    /** The nearest-rank {@code p}th percentile (0 &lt; p &le; 100) of {@code sorted}, which is in ascending order. */
    static long percentile(long[] sorted, double p) {
        if (!(p > 0 && p <= 100)) {
            throw new IllegalArgumentException("percentile " + p + " is outside (0, 100]");
        }
        int rank = (int) Math.ceil(p / 100 * sorted.length);
        return sorted[Math.max(rank, 1) - 1];
    }

    /** Milliseconds to the microsecond: the clock says more, but a process start's noise is far larger. */
    static double ms(long nanos) {
        return Math.round(nanos / 1e3) / 1e3;
    }
}
