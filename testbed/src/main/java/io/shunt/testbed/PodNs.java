package io.shunt.testbed;

import java.net.InetAddress;

/**
 * A pod namespace: one veth {@code eth0} with {@code address}/24 and a single route to the test
 * range via {@code gateway}, the router's end of the veth.
 */
public record PodNs(String name, String netnsName, InetAddress address, InetAddress gateway) implements TopologyNs {
    @Override
    public String toString() {
        return name + " (" + netnsName + ", " + address.getHostAddress() + ")";
    }
}
