package io.shunt.agent.metrics;

import io.shunt.agent.metrics.MetricsScrape.PodSample;
import io.shunt.proxy.PodCounters;

import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * Shunt's metrics in the Prometheus text format: the agent's own state, then one family at a time
 * with a sample per pod, labelled with the pod's name and its technique. The counters are per
 * pod, both listeners together, so there is no {@code direction} label.
 */
final class PrometheusText {
    static final String CONTENT_TYPE = ExpositionWriter.CONTENT_TYPE;

    private PrometheusText() {
    }

    static String render(MetricsScrape scrape) {
        ExpositionWriter w = new ExpositionWriter();
        w.family("shunt_build_info", "gauge", "Always 1; the version label says which build of the agent runs.")
                .sample("shunt_build_info", 1, "version", scrape.version());
        w.family("shunt_agent_ready", "gauge",
                        "1 once the agent has taken back the pods persisted by its last run, else 0.")
                .sample("shunt_agent_ready", scrape.ready() ? 1 : 0);
        w.family("shunt_pods", "gauge", "Pods the agent intercepts now, by technique.");
        for (Map.Entry<String, Integer> e : scrape.podsByTechnique().entrySet()) {
            w.sample("shunt_pods", e.getValue(), "technique", e.getKey());
        }

        perPod(w, scrape, "shunt_connections_accepted_total", "counter",
                "Connections the pod's listeners accepted.", PodCounters.Snapshot::accepted);
        perPod(w, scrape, "shunt_connections_active", "gauge",
                "Connections of the pod the proxy holds open now.", PodCounters.Snapshot::active);
        perPod(w, scrape, "shunt_upstream_connect_failures_total", "counter",
                "Connections reset because their original destination could not be reached.",
                PodCounters.Snapshot::upstreamFailures);
        perPod(w, scrape, "shunt_original_destination_misses_total", "counter",
                "Connections closed because the proxy could not find where they were going.",
                PodCounters.Snapshot::destinationMisses);
        perPod(w, scrape, "shunt_connections_shed_total", "counter",
                "New connections reset at once because the pod or the node was at its connection limit.",
                PodCounters.Snapshot::shed);

        w.family("shunt_bytes_total", "counter",
                "Bytes relayed, by the side that sent them: client (opened the connection) or upstream.");
        for (PodSample p : scrape.pods()) {
            w.sample("shunt_bytes_total", p.counters().bytesFromClients(), podLabels(p, "side", "client"));
            w.sample("shunt_bytes_total", p.counters().bytesFromUpstreams(), podLabels(p, "side", "upstream"));
        }

        w.family("shunt_upstream_connect_seconds", "histogram",
                "Time from creating an upstream socket in the pod's namespace to its connect succeeding.");
        for (PodSample p : scrape.pods()) {
            w.histogram("shunt_upstream_connect_seconds", p.counters().upstreamConnect(), podLabels(p));
        }
        return w.text();
    }

    private static void perPod(ExpositionWriter w, MetricsScrape scrape, String name, String type, String help,
                               ToLongFunction<PodCounters.Snapshot> value) {
        w.family(name, type, help);
        for (PodSample p : scrape.pods()) {
            w.sample(name, value.applyAsLong(p.counters()), podLabels(p));
        }
    }

    private static String[] podLabels(PodSample p, String... more) {
        String[] labels = new String[4 + more.length];
        labels[0] = "pod";
        labels[1] = p.pod();
        labels[2] = "technique";
        labels[3] = p.technique();
        System.arraycopy(more, 0, labels, 4, more.length);
        return labels;
    }
}
