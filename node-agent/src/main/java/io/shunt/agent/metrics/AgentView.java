package io.shunt.agent.metrics;

import io.shunt.agent.NodeAgent;

/** What the metrics server reads from the agent: {@link NodeAgent} in the agent, a stand-in in tests. */
interface AgentView {
    /** Whether the agent has taken back its persisted pods; cheap, read on every {@code /readyz}. */
    boolean ready();

    /** Everything {@code /metrics} shows, read now. */
    MetricsScrape scrape();

    static AgentView of(NodeAgent agent) {
        return new AgentView() {
            @Override
            public boolean ready() {
                return agent.ready();
            }

            @Override
            public MetricsScrape scrape() {
                return MetricsScrape.of(agent, BuildInfo.version());
            }
        };
    }
}
