package io.shunt.testbed;

import io.shunt.ffi.netns.NetNs;

import java.io.IOException;
import java.nio.file.Path;

/** One network namespace of a {@link Topology}: the router/upstream one or a pod. */
public sealed interface TopologyNs permits PodNs, UpstreamNs {
    /** The short role name, e.g. {@code up} or {@code pod-a}. */
    String name();

    /** The full name under which iproute2 knows it, e.g. {@code shunt-kt-1a2b-pod-a}. */
    String netnsName();

    /** The bind-mount iproute2 keeps for it; {@link NetNs#open} accepts this path. */
    default Path netnsPath() {
        return Path.of("/var/run/netns", netnsName());
    }

    /** Opens a new handle on this namespace; the caller owns and closes it. */
    default NetNs open() throws IOException {
        return NetNs.open(netnsPath());
    }
}
