package io.shunt.testbed;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The soak's arithmetic and its verdicts, apart from any process or kernel: the least-squares
 * slope of a series, and whether memory stayed flat and file descriptors were given back.
 */
final class SoakVerdicts {
    private SoakVerdicts() {
    }

    /** A verdict: whether the check passed, and the line that says so with its figures. */
    record Verdict(boolean ok, String line) {
    }

    /**
     * The slope of the least-squares line through the points ({@code x[i]}, {@code y[i]}), in
     * y units per x unit; NaN with fewer than two points or when all x are equal.
     */
    static double slope(double[] x, double[] y) {
        if (x.length != y.length) {
            throw new IllegalArgumentException(x.length + " x values but " + y.length + " y values");
        }
        int n = x.length;
        if (n < 2) {
            return Double.NaN;
        }
        double mx = 0;
        double my = 0;
        for (int i = 0; i < n; i++) {
            mx += x[i];
            my += y[i];
        }
        mx /= n;
        my /= n;
        double sxy = 0;
        double sxx = 0;
        for (int i = 0; i < n; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
        return sxx == 0 ? Double.NaN : sxy / sxx;
    }

    /**
     * The points of the run's second half: those at or after half of {@code runMinutes}, so that
     * the warm-up (JIT, heap sizing, pools filling) does not count. Returns their indices.
     */
    static List<Integer> secondHalf(double[] minutes, double runMinutes) {
        List<Integer> indices = new ArrayList<>();
        for (int i = 0; i < minutes.length; i++) {
            if (minutes[i] >= runMinutes / 2 - 1e-9) {
                indices.add(i);
            }
        }
        return indices;
    }

    /**
     * Memory is flat when the RSS slope over the second half is at most {@code limitMibPerMinute}
     * (a shrinking RSS is flat too).
     */
    static Verdict memory(double slopeMibPerMinute, int points, double limitMibPerMinute) {
        if (Double.isNaN(slopeMibPerMinute)) {
            return new Verdict(false, "memory flat: unknown (" + points + " sample(s) in the second half; run longer)");
        }
        boolean flat = slopeMibPerMinute <= limitMibPerMinute;
        return new Verdict(flat, String.format(Locale.ROOT, "memory flat: %s (slope %+.2f MiB/min over the second half,"
                + " %d samples; limit %.2f)", flat ? "yes" : "no", slopeMibPerMinute, points, limitMibPerMinute));
    }

    /**
     * File descriptors are not leaking when the agent holds as many at the end of the run as after
     * the warm-up (within {@code loadMargin}: connections of the churn come and go between two
     * looks), and, once every connection is closed, as many as when it was idle before the run
     * (within {@code idleMargin}).
     */
    static Verdict fds(int idle, int warm, int end, int closed, int loadMargin, int idleMargin) {
        int drift = end - warm;
        int left = closed - idle;
        boolean driftOk = Math.abs(drift) <= loadMargin;
        boolean leftOk = left <= idleMargin;
        String figures = String.format(Locale.ROOT, "after warm-up %d, at the end %d (%+d, allowed ±%d); after closing"
                + " every connection %d, idle before the run %d (%+d, allowed +%d)", warm, end, drift, loadMargin, closed,
                idle, left, idleMargin);
        if (driftOk && leftOk) {
            return new Verdict(true, "fd leak: none (" + figures + ")");
        }
        String what = !leftOk && !driftOk ? "fds grew under load and were not given back"
                : !leftOk ? left + " fds not given back after every connection closed"
                : "fds " + (drift > 0 ? "grew" : "shrank") + " by " + Math.abs(drift) + " under steady load";
        return new Verdict(false, "fd leak: " + what + " (" + figures + ")");
    }
}
