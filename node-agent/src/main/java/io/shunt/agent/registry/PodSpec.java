package io.shunt.agent.registry;

import io.shunt.hijack.TechniqueId;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A pod as the agent is told about it: a name and the path of its network namespace.
 *
 * @param name      unique on this node, e.g. "default/web-1" or "pod-a"
 * @param netns     e.g. /var/run/netns/cni-1234 or /proc/4242/ns/net
 * @param technique   a technique pinned for this pod, overriding the node's ranking
 * @param containerId the CNI container id when the pod came through CNI, else empty
 * @param network     the CNI network it came through, else empty
 * @param cgroup      its cgroup v2 folder when known: the sockmap technique attaches there
 */
public record PodSpec(String name, Path netns, Optional<TechniqueId> technique, String containerId, String network,
                      PodExclusions exclusions, Optional<Path> cgroup) {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,252}");

    public PodSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(netns, "netns");
        Objects.requireNonNull(technique, "technique");
        containerId = containerId == null ? "" : containerId;
        network = network == null ? "" : network;
        exclusions = exclusions == null ? PodExclusions.NONE : exclusions;
        cgroup = cgroup == null ? Optional.empty() : cgroup;
        if (cgroup.isPresent() && !cgroup.get().isAbsolute()) {
            throw new IllegalArgumentException("cgroup path '" + cgroup.get() + "' of pod " + name + " must be absolute");
        }
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("pod name '" + name + "' is not valid: use letters, digits and . _ / -,"
                    + " starting with a letter or digit, at most 253 characters");
        }
        if (!netns.isAbsolute()) {
            throw new IllegalArgumentException("netns path '" + netns + "' of pod " + name + " must be absolute");
        }
    }

    /** A pod that follows the node's technique ranking. */
    public PodSpec(String name, Path netns) {
        this(name, netns, Optional.empty(), "", "", PodExclusions.NONE, Optional.empty());
    }

    public PodSpec withTechnique(TechniqueId pinned) {
        return new PodSpec(name, netns, Optional.of(pinned), containerId, network, exclusions, cgroup);
    }

    public PodSpec withContainerId(String id) {
        return new PodSpec(name, netns, technique, id, network, exclusions, cgroup);
    }

    public PodSpec withNetwork(String cniNetwork) {
        return new PodSpec(name, netns, technique, containerId, cniNetwork, exclusions, cgroup);
    }

    public PodSpec withExclusions(PodExclusions podExclusions) {
        return new PodSpec(name, netns, technique, containerId, network, podExclusions, cgroup);
    }

    public PodSpec withCgroup(Path podCgroup) {
        return new PodSpec(name, netns, technique, containerId, network, exclusions, Optional.of(podCgroup));
    }

    /** What the agent persists of this pod. */
    public PodRecord toRecord() {
        return new PodRecord(name, netns.toString(), containerId, technique.map(TechniqueId::id).orElse(""), network,
                exclusions.outboundCidrsText(), exclusions.outboundPortsText(), exclusions.inboundPortsText(),
                cgroup.map(Path::toString).orElse(""));
    }

    /** The pod a persisted record describes. */
    public static PodSpec fromRecord(PodRecord r) {
        PodSpec spec = new PodSpec(r.name(), Path.of(r.netns())).withContainerId(r.containerId()).withNetwork(r.network())
                .withExclusions(PodExclusions.fromText(r.excludeOutboundCidrs(), r.excludeOutboundPorts(),
                        r.excludeInboundPorts()));
        spec = r.cgroup().isEmpty() ? spec : spec.withCgroup(Path.of(r.cgroup()));
        return r.pinned().isEmpty() ? spec : spec.withTechnique(TechniqueId.fromId(r.pinned()));
    }

    /**
     * Parses {@code NAME=PATH[,cgroup=DIR]}, the form the standalone agent takes on its command
     * line; the cgroup is the pod's cgroup v2 folder, which the sockmap technique needs.
     */
    public static PodSpec parse(String text) {
        int eq = text.indexOf('=');
        if (eq <= 0 || eq == text.length() - 1) {
            throw new IllegalArgumentException("pod '" + text + "' is not NAME=NETNS_PATH[,cgroup=DIR], e.g. "
                    + "web-1=/var/run/netns/web-1");
        }
        String rest = text.substring(eq + 1);
        int comma = rest.indexOf(",cgroup=");
        if (comma < 0) {
            return new PodSpec(text.substring(0, eq), Path.of(rest));
        }
        String cgroup = rest.substring(comma + ",cgroup=".length());
        if (cgroup.isEmpty()) {
            throw new IllegalArgumentException("pod '" + text + "' names an empty cgroup; write NAME=NETNS_PATH,cgroup=DIR, "
                    + "e.g. web-1=/var/run/netns/web-1,cgroup=/sys/fs/cgroup/pods/web-1");
        }
        return new PodSpec(text.substring(0, eq), Path.of(rest.substring(0, comma))).withCgroup(Path.of(cgroup));
    }
}
