package io.shunt.agent.registry;

import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Exclusions that apply to one pod on top of the node's policy, e.g. from its Kubernetes
 * annotations. They only ever add bypasses; a pod cannot capture what the node excludes.
 */
public record PodExclusions(List<Cidr> outboundCidrs, List<PortRange> outboundPorts, List<PortRange> inboundPorts) {
    public static final PodExclusions NONE = new PodExclusions(List.of(), List.of(), List.of());

    public PodExclusions {
        outboundCidrs = List.copyOf(outboundCidrs);
        outboundPorts = List.copyOf(outboundPorts);
        inboundPorts = List.copyOf(inboundPorts);
    }

    public boolean isEmpty() {
        return outboundCidrs.isEmpty() && outboundPorts.isEmpty() && inboundPorts.isEmpty();
    }

    /** The node's policy with these exclusions added (each entry once, the node's first). */
    public CapturePolicy applyTo(CapturePolicy node) {
        if (isEmpty()) {
            return node;
        }
        return node.withExcludeOutboundCidrs(union(node.excludeOutboundCidrs(), outboundCidrs))
                .withExcludeOutboundPorts(union(node.excludeOutboundPorts(), outboundPorts))
                .withExcludeInboundPorts(union(node.excludeInboundPorts(), inboundPorts));
    }

    private static <T> List<T> union(List<T> a, List<T> b) {
        LinkedHashSet<T> all = new LinkedHashSet<>(a);
        all.addAll(b);
        return new ArrayList<>(all);
    }

    static PodExclusions fromText(List<String> cidrs, List<String> ports, List<String> inbound) {
        return new PodExclusions(cidrs.stream().map(Cidr::parse).toList(), ports.stream().map(PortRange::parse).toList(),
                inbound.stream().map(PortRange::parse).toList());
    }

    List<String> outboundCidrsText() {
        return outboundCidrs.stream().map(Object::toString).toList();
    }

    List<String> outboundPortsText() {
        return outboundPorts.stream().map(Object::toString).toList();
    }

    List<String> inboundPortsText() {
        return inboundPorts.stream().map(Object::toString).toList();
    }
}
