package io.shunt.agent.metrics;

import io.shunt.agent.metrics.MetricsScrape.PodSample;
import io.shunt.proxy.LatencyHistogram;
import io.shunt.proxy.PodCounters;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrometheusTextTest {

    @Test
    void rendersAgentStateAndEveryFamilyOfOnePod() {
        PodCounters c = new PodCounters();
        c.connectionAccepted();
        c.connectionAccepted();
        c.connectionEnded();
        c.upstreamFailed();
        c.destinationMissed();
        c.connectionShed();
        c.bytesRelayed(true, 1000);
        c.bytesRelayed(false, 20);
        c.upstreamConnected(Duration.ofNanos(40_000).toNanos());
        c.upstreamConnected(Duration.ofMillis(3).toNanos());
        MetricsScrape scrape = new MetricsScrape("1.2.3", true, Map.of("redirect", 1, "tproxy", 0),
                List.of(new PodSample("default/web-1", "redirect", c.snapshot())));

        String text = PrometheusText.render(scrape);

        String labels = "pod=\"default/web-1\",technique=\"redirect\"";
        assertEquals("""
                # HELP shunt_build_info Always 1; the version label says which build of the agent runs.
                # TYPE shunt_build_info gauge
                shunt_build_info{version="1.2.3"} 1
                # HELP shunt_agent_ready 1 once the agent has taken back the pods persisted by its last run, else 0.
                # TYPE shunt_agent_ready gauge
                shunt_agent_ready 1
                # HELP shunt_pods Pods the agent intercepts now, by technique.
                # TYPE shunt_pods gauge
                shunt_pods{technique="redirect"} 1
                shunt_pods{technique="tproxy"} 0
                # HELP shunt_connections_accepted_total Connections the pod's listeners accepted.
                # TYPE shunt_connections_accepted_total counter
                shunt_connections_accepted_total{L} 2
                # HELP shunt_connections_active Connections of the pod the proxy holds open now.
                # TYPE shunt_connections_active gauge
                shunt_connections_active{L} 1
                # HELP shunt_upstream_connect_failures_total Connections reset because their original destination could not be reached.
                # TYPE shunt_upstream_connect_failures_total counter
                shunt_upstream_connect_failures_total{L} 1
                # HELP shunt_original_destination_misses_total Connections closed because the proxy could not find where they were going.
                # TYPE shunt_original_destination_misses_total counter
                shunt_original_destination_misses_total{L} 1
                # HELP shunt_connections_shed_total New connections reset at once because the pod or the node was at its connection limit.
                # TYPE shunt_connections_shed_total counter
                shunt_connections_shed_total{L} 1
                # HELP shunt_bytes_total Bytes relayed, by the side that sent them: client (opened the connection) or upstream.
                # TYPE shunt_bytes_total counter
                shunt_bytes_total{L,side="client"} 1000
                shunt_bytes_total{L,side="upstream"} 20
                # HELP shunt_upstream_connect_seconds Time from creating an upstream socket in the pod's namespace to its connect succeeding.
                # TYPE shunt_upstream_connect_seconds histogram
                shunt_upstream_connect_seconds_bucket{L,le="0.00005"} 1
                shunt_upstream_connect_seconds_bucket{L,le="0.0001"} 1
                shunt_upstream_connect_seconds_bucket{L,le="0.00025"} 1
                shunt_upstream_connect_seconds_bucket{L,le="0.0005"} 1
                shunt_upstream_connect_seconds_bucket{L,le="0.001"} 1
                shunt_upstream_connect_seconds_bucket{L,le="0.0025"} 1
                shunt_upstream_connect_seconds_bucket{L,le="0.005"} 2
                shunt_upstream_connect_seconds_bucket{L,le="0.01"} 2
                shunt_upstream_connect_seconds_bucket{L,le="0.025"} 2
                shunt_upstream_connect_seconds_bucket{L,le="0.05"} 2
                shunt_upstream_connect_seconds_bucket{L,le="0.1"} 2
                shunt_upstream_connect_seconds_bucket{L,le="0.25"} 2
                shunt_upstream_connect_seconds_bucket{L,le="1"} 2
                shunt_upstream_connect_seconds_bucket{L,le="2.5"} 2
                shunt_upstream_connect_seconds_bucket{L,le="5"} 2
                shunt_upstream_connect_seconds_bucket{L,le="10"} 2
                shunt_upstream_connect_seconds_bucket{L,le="+Inf"} 2
                shunt_upstream_connect_seconds_sum{L} 0.00304
                shunt_upstream_connect_seconds_count{L} 2
                """.replace("{L}", "{" + labels + "}").replace("{L,", "{" + labels + ","), text);
    }

    @Test
    void withoutPodsTheFamiliesAreDeclaredAndEveryTechniqueCountsZero() {
        MetricsScrape scrape = new MetricsScrape("1.2.3", false, MetricsScrape.countByTechnique(List.of()), List.of());
        String text = PrometheusText.render(scrape);
        assertTrue(text.contains("\nshunt_agent_ready 0\n"), text);
        assertTrue(text.contains("\nshunt_pods{technique=\"redirect\"} 0\nshunt_pods{technique=\"sockmap\"} 0\nshunt_pods{technique=\"tc\"} 0\nshunt_pods{technique=\"tproxy\"} 0\n"), text);
        assertTrue(text.contains("# TYPE shunt_upstream_connect_seconds histogram\n"), text);
        assertTrue(text.lines().noneMatch(l -> l.startsWith("shunt_connections_accepted_total")), text);
    }

    @Test
    void podsAreCountedPerTechniqueAndTheirLabelValuesEscaped() {
        PodCounters.Snapshot empty = new PodCounters().snapshot();
        List<PodSample> pods = List.of(new PodSample("a", "tproxy", empty), new PodSample("b", "tproxy", empty),
                new PodSample("odd\"pod\\\n", "redirect", empty));
        String text = PrometheusText.render(new MetricsScrape("v", true, MetricsScrape.countByTechnique(pods), pods));
        assertTrue(text.contains("\nshunt_pods{technique=\"redirect\"} 1\nshunt_pods{technique=\"sockmap\"} 0\nshunt_pods{technique=\"tc\"} 0\nshunt_pods{technique=\"tproxy\"} 2\n"), text);
        assertTrue(text.contains("\nshunt_connections_active{pod=\"odd\\\"pod\\\\\\n\",technique=\"redirect\"} 0\n"), text);
        assertEquals(3, text.lines().filter(l -> l.startsWith("shunt_upstream_connect_seconds_count{")).count(), text);
    }

    @Test
    void everyFamilyAppearsOnceAndItsSamplesFollowIt() {
        PodCounters.Snapshot empty = new PodCounters().snapshot();
        List<PodSample> pods = List.of(new PodSample("a", "redirect", empty), new PodSample("b", "tproxy", empty));
        String text = PrometheusText.render(new MetricsScrape("v", true, MetricsScrape.countByTechnique(pods), pods));
        String family = null;
        Set<String> seen = new HashSet<>();
        for (String line : text.lines().toList()) {
            if (line.startsWith("# TYPE ")) {
                family = line.split(" ")[2];
                assertTrue(seen.add(family), family + " declared twice:\n" + text);
            } else if (!line.startsWith("#")) {
                String name = line.split("[{ ]")[0];
                assertTrue(name.equals(family) || name.matches(family + "_(bucket|sum|count)"),
                        name + " is outside its family " + family + ":\n" + text);
            }
        }
        assertEquals(LatencyHistogram.UPPER_BOUNDS.size() + 1,
                text.lines().filter(l -> l.startsWith("shunt_upstream_connect_seconds_bucket{pod=\"a\"")).count());
    }
}
