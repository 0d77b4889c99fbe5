package io.shunt.agent.metrics;

import io.shunt.proxy.LatencyHistogram;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;

/**
 * Writes the Prometheus text exposition format, version 0.0.4: metric families, each a HELP and
 * a TYPE line followed by its samples. Knows the format, not Shunt's metrics.
 */
final class ExpositionWriter {
    /** The Content-Type of what this writes. */
    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final StringBuilder out = new StringBuilder(4096);

    /** Starts a family; all its samples must follow before the next family starts. */
    ExpositionWriter family(String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        return this;
    }

    /** One sample; {@code labels} alternate name and value. */
    ExpositionWriter sample(String name, long value, String... labels) {
        return sample(name, Long.toString(value), labels);
    }

    /**
     * The samples of one histogram: a cumulative {@code _bucket} per bound plus {@code le="+Inf"},
     * which equals {@code _count}, then {@code _sum} in seconds.
     */
    ExpositionWriter histogram(String name, LatencyHistogram.Snapshot h, String... labels) {
        List<Duration> bounds = h.upperBounds();
        String[] withLe = new String[labels.length + 2];
        System.arraycopy(labels, 0, withLe, 0, labels.length);
        withLe[labels.length] = "le";
        long cumulative = 0;
        for (int i = 0; i <= bounds.size(); i++) {
            cumulative += h.bucketCounts().get(i);
            withLe[labels.length + 1] = i < bounds.size() ? seconds(bounds.get(i).toNanos()) : "+Inf";
            sample(name + "_bucket", cumulative, withLe);
        }
        sample(name + "_sum", seconds(h.sumNanos()), labels);
        return sample(name + "_count", cumulative, labels);
    }

    String text() {
        return out.toString();
    }

    private ExpositionWriter sample(String name, String value, String... labels) {
        if (labels.length % 2 != 0) {
            throw new IllegalArgumentException("labels of " + name + " must alternate name and value, got "
                    + labels.length + " strings");
        }
        out.append(name);
        if (labels.length > 0) {
            out.append('{');
            for (int i = 0; i < labels.length; i += 2) {
                if (i > 0) {
                    out.append(',');
                }
                out.append(labels[i]).append("=\"").append(escapeLabelValue(labels[i + 1])).append('"');
            }
            out.append('}');
        }
        out.append(' ').append(value).append('\n');
        return this;
    }

    /** Nanoseconds as exact decimal seconds, without exponent: 50000 → {@code 0.00005}, 10^9 → {@code 1}. */
    static String seconds(long nanos) {
        return BigDecimal.valueOf(nanos, 9).stripTrailingZeros().toPlainString();
    }

    /** A label value between double quotes: backslash, double quote and line feed are escaped. */
    static String escapeLabelValue(String value) {
        return escape(value, true);
    }

    /** HELP text: backslash and line feed are escaped (quotes are not, per the format). */
    static String escapeHelp(String text) {
        return escape(text, false);
    }

    private static String escape(String s, boolean quotes) {
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String replacement = switch (c) {
                case '\\' -> "\\\\";
                case '\n' -> "\\n";
                case '"' -> quotes ? "\\\"" : null;
                default -> null;
            };
            if (replacement != null && b == null) {
                b = new StringBuilder(s.length() + 8).append(s, 0, i);
            }
            if (b != null) {
                if (replacement != null) {
                    b.append(replacement);
                } else {
                    b.append(c);
                }
            }
        }
        return b == null ? s : b.toString();
    }
}
