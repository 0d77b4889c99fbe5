package io.shunt.agent.registry;

import java.util.List;
import java.util.Objects;

/**
 * A pod as the agent persists it, to take it back after a restart without the runtime calling
 * ADD again.
 *
 * @param name        the pod's name in the registry
 * @param netns       its network namespace path
 * @param containerId the CNI container id, or empty for a pod given on the command line
 * @param pinned      the technique pinned for it, or empty to follow the node's ranking
 * @param network     the CNI network it was added through, or empty
 * @param excludeOutboundCidrs its own exclusions on top of the node's ({@link PodExclusions}); absent in
 *                    records written before they existed
 * @param cgroup      its cgroup v2 folder, or empty when not known (and in records written before it existed)
 */
public record PodRecord(String name, String netns, String containerId, String pinned, String network,
                        List<String> excludeOutboundCidrs, List<String> excludeOutboundPorts,
                        List<String> excludeInboundPorts, String cgroup) {
    public PodRecord {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(netns, "netns");
        containerId = containerId == null ? "" : containerId;
        pinned = pinned == null ? "" : pinned;
        network = network == null ? "" : network;
        excludeOutboundCidrs = excludeOutboundCidrs == null ? List.of() : List.copyOf(excludeOutboundCidrs);
        excludeOutboundPorts = excludeOutboundPorts == null ? List.of() : List.copyOf(excludeOutboundPorts);
        excludeInboundPorts = excludeInboundPorts == null ? List.of() : List.copyOf(excludeInboundPorts);
        cgroup = cgroup == null ? "" : cgroup;
    }
}
