package io.shunt.agent.metrics;

import io.shunt.agent.NodeAgent;
import io.shunt.hijack.TechniqueId;
import io.shunt.proxy.PodCounters;

import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What one scrape shows, read from the agent at one moment and then rendered.
 *
 * @param version          the agent's build version
 * @param ready            whether the agent has taken back its persisted pods
 * @param podsByTechnique  pods per technique id, with every known technique present (0 when unused);
 *                         kept sorted by id, so the output is stable
 * @param pods             the intercepted pods, by name
 */
record MetricsScrape(String version, boolean ready, Map<String, Integer> podsByTechnique, List<PodSample> pods) {
    MetricsScrape {
        podsByTechnique = Collections.unmodifiableSortedMap(new TreeMap<>(podsByTechnique));
        pods = List.copyOf(pods);
    }

    /** One intercepted pod's counters. */
    record PodSample(String pod, String technique, PodCounters.Snapshot counters) {
    }

    static MetricsScrape of(NodeAgent agent, String version) {
        boolean ready = agent.ready();
        List<PodSample> pods = agent.pods().stream()
                .map(p -> new PodSample(p.name(), p.technique().id(), p.engine().counters()))
                .sorted(Comparator.comparing(PodSample::pod))
                .toList();
        return new MetricsScrape(version, ready, countByTechnique(pods), pods);
    }

    /** Every technique is listed, so a dashboard sees a 0 rather than a missing series. */
    static Map<String, Integer> countByTechnique(List<PodSample> pods) {
        Map<String, Integer> counts = new TreeMap<>();
        for (TechniqueId t : TechniqueId.values()) {
            counts.put(t.id(), 0);
        }
        for (PodSample p : pods) {
            counts.merge(p.technique(), 1, Integer::sum);
        }
        return counts;
    }
}
