package io.shunt.testbed;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The figures of one wrk run (with --latency).
 *
 * @param requests       requests completed
 * @param requestsPerSec wrk's own rate
 * @param p50Micros      median latency
 * @param p99Micros      99th percentile latency
 * @param errors         socket errors plus non-2xx responses
 */
public record WrkResult(long requests, double requestsPerSec, double p50Micros, double p99Micros, long errors) {
    private static final Pattern REQUESTS = Pattern.compile("(\\d+) requests in");
    private static final Pattern RATE = Pattern.compile("Requests/sec:\\s+([\\d.]+)");
    private static final Pattern PERCENTILE = Pattern.compile("^\\s+(50|99)%\\s+([\\d.]+)(us|ms|s)\\s*$", Pattern.MULTILINE);
    private static final Pattern SOCKET_ERRORS = Pattern.compile(
            "Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");
    private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses: (\\d+)");

    public static WrkResult parse(String output) {
        double p50 = Double.NaN;
        double p99 = Double.NaN;
        Matcher m = PERCENTILE.matcher(output);
        while (m.find()) {
            double micros = Double.parseDouble(m.group(2)) * switch (m.group(3)) {
                case "us" -> 1;
                case "ms" -> 1_000;
                default -> 1_000_000;
            };
            if (m.group(1).equals("50")) {
                p50 = micros;
            } else {
                p99 = micros;
            }
        }
        long errors = 0;
        Matcher e = SOCKET_ERRORS.matcher(output);
        if (e.find()) {
            for (int i = 1; i <= 4; i++) {
                errors += Long.parseLong(e.group(i));
            }
        }
        Matcher n = NON_2XX.matcher(output);
        if (n.find()) {
            errors += Long.parseLong(n.group(1));
        }
        return new WrkResult(Long.parseLong(find(REQUESTS, output)), Double.parseDouble(find(RATE, output)), p50, p99, errors);
    }

    private static String find(Pattern p, String output) {
        Matcher m = p.matcher(output);
        if (!m.find()) {
            throw new IllegalArgumentException("wrk output has no match for " + p + ":\n" + output);
        }
        return m.group(1);
    }
}
