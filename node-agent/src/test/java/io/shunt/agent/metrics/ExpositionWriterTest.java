package io.shunt.agent.metrics;

import io.shunt.proxy.LatencyHistogram;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ExpositionWriterTest {

    @Test
    void labelValuesEscapeBackslashQuoteAndLineFeed() {
        assertEquals("a\\\\b \\\"c\\\" d\\ne", ExpositionWriter.escapeLabelValue("a\\b \"c\" d\ne"));
        String plain = "default/web-1";
        assertSame(plain, ExpositionWriter.escapeLabelValue(plain), "nothing to escape, nothing copied");
    }

    @Test
    void helpEscapesBackslashAndLineFeedButNotQuotes() {
        assertEquals("say \"hi\" \\\\ then\\nmore", ExpositionWriter.escapeHelp("say \"hi\" \\ then\nmore"));
    }

    @Test
    void aFamilyIsHelpThenTypeThenItsSamplesWithEscapedLabels() {
        String text = new ExpositionWriter()
                .family("x_total", "counter", "Things.\nCounted.")
                .sample("x_total", 3, "pod", "we\"ird\\pod\n", "technique", "redirect")
                .sample("x_total", 0)
                .text();
        assertEquals("""
                # HELP x_total Things.\\nCounted.
                # TYPE x_total counter
                x_total{pod="we\\"ird\\\\pod\\n",technique="redirect"} 3
                x_total 0
                """, text);
    }

    @Test
    void histogramBucketsAreCumulativeAndInfEqualsCount() {
        LatencyHistogram.Snapshot h = new LatencyHistogram.Snapshot(
                List.of(Duration.ofNanos(50_000), Duration.ofNanos(2_500_000), Duration.ofSeconds(1)),
                List.of(2L, 0L, 3L, 1L), 1_234_567_890L);
        String text = new ExpositionWriter().histogram("t_seconds", h, "pod", "p").text();
        assertEquals("""
                t_seconds_bucket{pod="p",le="0.00005"} 2
                t_seconds_bucket{pod="p",le="0.0025"} 2
                t_seconds_bucket{pod="p",le="1"} 5
                t_seconds_bucket{pod="p",le="+Inf"} 6
                t_seconds_sum{pod="p"} 1.23456789
                t_seconds_count{pod="p"} 6
                """, text);
    }

    @Test
    void secondsAreExactDecimalsWithoutExponent() {
        assertEquals("0", ExpositionWriter.seconds(0));
        assertEquals("0.000000001", ExpositionWriter.seconds(1));
        assertEquals("0.00005", ExpositionWriter.seconds(50_000));
        assertEquals("10", ExpositionWriter.seconds(10_000_000_000L));
        assertEquals("2.5", ExpositionWriter.seconds(2_500_000_000L));
    }

    @Test
    void anOddNumberOfLabelStringsIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ExpositionWriter().sample("x", 1, "pod"));
        assertEquals("labels of x must alternate name and value, got 1 strings", e.getMessage());
    }
}
