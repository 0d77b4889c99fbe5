package io.shunt.testbed;

import java.net.InetAddress;
import java.util.List;

/**
 * The router/upstream namespace: forwards between the pods and holds the service addresses on its
 * {@code lo}, where callers bind the servers that pods talk to.
 */
public record UpstreamNs(String name, String netnsName, List<InetAddress> serviceAddresses) implements TopologyNs {
    public UpstreamNs {
        serviceAddresses = List.copyOf(serviceAddresses);
    }

    @Override
    public String toString() {
        return name + " (" + netnsName + ")";
    }
}
