package io.shunt.agent;

import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.probe.Feature;
import io.shunt.hijack.select.Selector;
import io.shunt.proxy.EngineConfig;

import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Everything the agent runs with.
 *
 * @param ranking        techniques to try for each pod, best first; the first that the kernel
 *                       supports and that installs is used
 * @param assumeMissing  kernel features to treat as absent, to simulate an older kernel
 * @param policy         what is captured and what bypasses the proxy
 * @param engine         the shared proxy engine's settings
 * @param logConnections log one line per finished connection (off by default: busy nodes)
 */
public record AgentConfig(List<TechniqueId> ranking, Set<Feature> assumeMissing, CapturePolicy policy,
                          EngineConfig engine, boolean logConnections) {
    public AgentConfig {
        ranking = List.copyOf(new Selector(ranking).ranking());
        assumeMissing = Set.copyOf(assumeMissing);
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(engine, "engine");
    }

    /** One pinned technique, no fallback. */
    public AgentConfig(TechniqueId technique, CapturePolicy policy, EngineConfig engine, boolean logConnections) {
        this(List.of(technique), Set.of(), policy, engine, logConnections);
    }

    public AgentConfig withPolicy(CapturePolicy p) {
        return new AgentConfig(ranking, assumeMissing, p, engine, logConnections);
    }

    public AgentConfig withRanking(List<TechniqueId> r) {
        return new AgentConfig(r, assumeMissing, policy, engine, logConnections);
    }
}
