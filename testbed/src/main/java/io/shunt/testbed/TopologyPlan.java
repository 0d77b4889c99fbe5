package io.shunt.testbed;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * The topology as data: which namespaces exist, their addresses, and the iproute2 commands that
 * wire them once the namespaces are there. Nothing here touches the kernel, so the plan can be
 * printed and checked before (or without) being applied.
 *
 * <p>Every command names its namespace with {@code ip -n} or {@code ip netns exec}, and veth
 * pairs are created inside a pod with the peer placed straight into the router namespace, so no
 * interface, address, route or sysctl ever exists in the root namespace.
 */
record TopologyPlan(String prefix, UpstreamNs upstream, List<PodNs> pods, List<List<String>> wiring) {
    /** The test range: services in 10.201.0.0/24, pod i in 10.201.(i+1).0/24. */
    static final String TEST_RANGE = "10.201.0.0/16";
    static final int SERVICE_COUNT = 3;
    static final int MAX_PODS = 26;

    TopologyPlan {
        pods = List.copyOf(pods);
        wiring = List.copyOf(wiring);
    }

    static TopologyPlan of(String prefix, int podCount) {
        if (podCount < 1 || podCount > MAX_PODS) {
            throw new IllegalArgumentException("a topology has 1.." + MAX_PODS + " pods (named pod-a..pod-z), not " + podCount);
        }
        List<InetAddress> services = new ArrayList<>();
        for (int i = 0; i < SERVICE_COUNT; i++) {
            services.add(ipv4(10, 201, 0, 10 * (i + 1)));
        }
        UpstreamNs up = new UpstreamNs("up", prefix + "up", services);

        List<List<String>> wiring = new ArrayList<>();
        wiring.add(List.of("ip", "-n", up.netnsName(), "link", "set", "lo", "up"));
        // Forwarding is switched on inside the router namespace only; the root namespace keeps its own setting.
        wiring.add(List.of("ip", "netns", "exec", up.netnsName(), "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"));
        for (InetAddress service : services) {
            wiring.add(List.of("ip", "-n", up.netnsName(), "addr", "add", service.getHostAddress() + "/32", "dev", "lo"));
        }

        List<PodNs> pods = new ArrayList<>();
        for (int i = 0; i < podCount; i++) {
            String name = "pod-" + (char) ('a' + i);
            PodNs pod = new PodNs(name, prefix + name, ipv4(10, 201, i + 1, 2), ipv4(10, 201, i + 1, 1));
            String routerSide = "vp" + i;
            wiring.add(List.of("ip", "-n", pod.netnsName(), "link", "set", "lo", "up"));
            wiring.add(List.of("ip", "-n", pod.netnsName(), "link", "add", "eth0", "type", "veth",
                    "peer", "name", routerSide, "netns", up.netnsName()));
            wiring.add(List.of("ip", "-n", pod.netnsName(), "addr", "add", pod.address().getHostAddress() + "/24", "dev", "eth0"));
            wiring.add(List.of("ip", "-n", pod.netnsName(), "link", "set", "eth0", "up"));
            wiring.add(List.of("ip", "-n", up.netnsName(), "addr", "add", pod.gateway().getHostAddress() + "/24", "dev", routerSide));
            wiring.add(List.of("ip", "-n", up.netnsName(), "link", "set", routerSide, "up"));
            // The only route: the test range through the router. No default route, so nothing can leave the test.
            wiring.add(List.of("ip", "-n", pod.netnsName(), "route", "add", TEST_RANGE, "via", pod.gateway().getHostAddress()));
            pods.add(pod);
        }
        return new TopologyPlan(prefix, up, pods, wiring);
    }

    /** The namespaces to create, in creation order (router first, so veth peers have somewhere to go). */
    List<String> namespaceNames() {
        List<String> names = new ArrayList<>();
        names.add(upstream.netnsName());
        pods.forEach(pod -> names.add(pod.netnsName()));
        return names;
    }

    private static InetAddress ipv4(int a, int b, int c, int d) {
        try {
            return InetAddress.getByAddress(new byte[]{(byte) a, (byte) b, (byte) c, (byte) d});
        } catch (UnknownHostException e) {
            throw new AssertionError("four bytes are always a valid IPv4 address", e);
        }
    }
}
