package io.shunt.agent;

import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.proxy.EngineConfig;

import java.util.Objects;

/**
 * Everything the agent runs with.
 *
 * @param technique      the interception technique installed in every pod
 * @param policy         what is captured and what bypasses the proxy
 * @param engine         the shared proxy engine's settings
 * @param logConnections log one line per finished connection (off by default: busy nodes)
 */
public record AgentConfig(TechniqueId technique, CapturePolicy policy, EngineConfig engine, boolean logConnections) {
    public AgentConfig {
        Objects.requireNonNull(technique, "technique");
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(engine, "engine");
    }
}
