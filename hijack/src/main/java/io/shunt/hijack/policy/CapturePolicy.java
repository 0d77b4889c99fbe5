package io.shunt.hijack.policy;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What a pod's traffic capture diverts and what it leaves alone. One policy is compiled to every
 * technique, so the rules here are the reference: {@link #decideOutbound} answers what the kernel
 * rules should do, and each technique's conformance tests hold it to that.
 *
 * @param outboundPort         the proxy's listener for traffic the pod sends (default 15001)
 * @param inboundPort          the proxy's listener for traffic sent to the pod (default 15006)
 * @param bypassMark           the SO_MARK the proxy puts on its own upstream sockets, so they are never
 *                             diverted again (default 0x5348, "SH"); never 0, the mark of every socket
 * @param includeOutboundCidrs destinations to capture; empty means every destination
 * @param excludeOutboundCidrs destinations never captured, even when included
 * @param excludeOutboundPorts destination ports never captured
 * @param excludeInboundPorts  pod ports whose incoming connections are never captured
 * @param captureInbound       whether incoming connections are diverted at all
 * @param excludeOutboundOwners sockets of these users or groups are never captured (outbound only)
 */
public record CapturePolicy(int outboundPort, int inboundPort, int bypassMark,
                            List<Cidr> includeOutboundCidrs, List<Cidr> excludeOutboundCidrs,
                            List<PortRange> excludeOutboundPorts, List<PortRange> excludeInboundPorts,
                            boolean captureInbound, List<SocketOwner> excludeOutboundOwners) {

    public static final int DEFAULT_OUTBOUND_PORT = 15001;
    public static final int DEFAULT_INBOUND_PORT = 15006;
    public static final int DEFAULT_BYPASS_MARK = 0x5348;

    public CapturePolicy {
        checkPort("outboundPort", outboundPort);
        checkPort("inboundPort", inboundPort);
        if (outboundPort == inboundPort) {
            throw new IllegalArgumentException("outboundPort and inboundPort are both " + outboundPort
                    + "; the outbound and inbound listeners need different ports");
        }
        if (bypassMark == 0) {
            throw new IllegalArgumentException("bypassMark must not be 0: every unmarked socket has mark 0, so all "
                    + "traffic would bypass capture; pick a non-zero mark (default 0x5348)");
        }
        includeOutboundCidrs = copy("includeOutboundCidrs", includeOutboundCidrs);
        excludeOutboundCidrs = copy("excludeOutboundCidrs", excludeOutboundCidrs);
        excludeOutboundPorts = copy("excludeOutboundPorts", excludeOutboundPorts);
        excludeInboundPorts = copy("excludeInboundPorts", excludeInboundPorts);
        excludeOutboundOwners = copy("excludeOutboundOwners", excludeOutboundOwners);
    }

    /** Captures every IPv4 TCP connection in both directions, on the default ports and mark. */
    public static CapturePolicy defaults() {
        return new CapturePolicy(DEFAULT_OUTBOUND_PORT, DEFAULT_INBOUND_PORT, DEFAULT_BYPASS_MARK,
                List.of(), List.of(), List.of(), List.of(), true, List.of());
    }

    public CapturePolicy withOutboundPort(int port) {
        return new CapturePolicy(port, inboundPort, bypassMark, includeOutboundCidrs, excludeOutboundCidrs,
                excludeOutboundPorts, excludeInboundPorts, captureInbound, excludeOutboundOwners);
    }

    public CapturePolicy withInboundPort(int port) {
        return new CapturePolicy(outboundPort, port, bypassMark, includeOutboundCidrs, excludeOutboundCidrs,
                excludeOutboundPorts, excludeInboundPorts, captureInbound, excludeOutboundOwners);
    }

    public CapturePolicy withBypassMark(int mark) {
        return new CapturePolicy(outboundPort, inboundPort, mark, includeOutboundCidrs, excludeOutboundCidrs,
                excludeOutboundPorts, excludeInboundPorts, captureInbound, excludeOutboundOwners);
    }

    public CapturePolicy withIncludeOutboundCidrs(List<Cidr> cidrs) {
        return new CapturePolicy(outboundPort, inboundPort, bypassMark, cidrs, excludeOutboundCidrs,
                excludeOutboundPorts, excludeInboundPorts, captureInbound, excludeOutboundOwners);
    }

    public CapturePolicy withExcludeOutboundCidrs(List<Cidr> cidrs) {
        return new CapturePolicy(outboundPort, inboundPort, bypassMark, includeOutboundCidrs, cidrs,
                excludeOutboundPorts, excludeInboundPorts, captureInbound, excludeOutboundOwners);
    }

    public CapturePolicy withExcludeOutboundPorts(List<PortRange> ports) {
        return new CapturePolicy(outboundPort, inboundPort, bypassMark, includeOutboundCidrs, excludeOutboundCidrs,
                ports, excludeInboundPorts, captureInbound, excludeOutboundOwners);
    }

    public CapturePolicy withExcludeInboundPorts(List<PortRange> ports) {
        return new CapturePolicy(outboundPort, inboundPort, bypassMark, includeOutboundCidrs, excludeOutboundCidrs,
                excludeOutboundPorts, ports, captureInbound, excludeOutboundOwners);
    }

    public CapturePolicy withExcludeOutboundOwners(List<SocketOwner> owners) {
        return new CapturePolicy(outboundPort, inboundPort, bypassMark, includeOutboundCidrs, excludeOutboundCidrs,
                excludeOutboundPorts, excludeInboundPorts, captureInbound, owners);
    }

    public CapturePolicy withCaptureInbound(boolean capture) {
        return new CapturePolicy(outboundPort, inboundPort, bypassMark, includeOutboundCidrs, excludeOutboundCidrs,
                excludeOutboundPorts, excludeInboundPorts, capture, excludeOutboundOwners);
    }

    /** {@link #decideOutbound(InetAddress, int, Collection)} for a pod whose own addresses are unknown. */
    public Decision decideOutbound(InetAddress destination, int port) {
        return decideOutbound(destination, port, Set.of());
    }

    /**
     * What happens to a TCP connection that an application in the pod opens to
     * {@code destination:port} (from an unmarked socket: the proxy's own are always bypassed; and
     * from a socket whose owner is not in {@link #excludeOutboundOwners}, which bypass after the
     * port exclusions). The
     * checks run in the order of the kernel rules and the first that matches decides.
     *
     * @param podAddresses the pod's own addresses; connections to them, like to 127.0.0.0/8 and
     *                     0.0.0.0, stay inside the pod and are not outbound
     */
    public Decision decideOutbound(InetAddress destination, int port, Collection<InetAddress> podAddresses) {
        if (destination == null) {
            throw new IllegalArgumentException("destination must not be null");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("destination port " + port + " is out of range 1..65535");
        }
        if (!(destination instanceof Inet4Address)) {
            return Decision.bypassed(destination, port, Decision.Reason.NOT_IPV4, null);
        }
        if (destination.isLoopbackAddress() || destination.isAnyLocalAddress() || podAddresses.contains(destination)) {
            return Decision.bypassed(destination, port, Decision.Reason.LOCAL_DESTINATION, null);
        }
        if (!includeOutboundCidrs.isEmpty() && first(includeOutboundCidrs, destination).isEmpty()) {
            return Decision.bypassed(destination, port, Decision.Reason.NOT_INCLUDED, null);
        }
        Optional<Cidr> cidr = first(excludeOutboundCidrs, destination);
        if (cidr.isPresent()) {
            return Decision.bypassed(destination, port, Decision.Reason.EXCLUDED_CIDR, cidr.get().toString());
        }
        for (PortRange range : excludeOutboundPorts) {
            if (range.contains(port)) {
                return Decision.bypassed(destination, port, Decision.Reason.EXCLUDED_PORT, range.toString());
            }
        }
        return new Decision(destination, port, true, Decision.Reason.CAPTURED, Optional.of(String.valueOf(outboundPort)));
    }

    private static Optional<Cidr> first(List<Cidr> cidrs, InetAddress address) {
        return cidrs.stream().filter(c -> c.contains(address)).findFirst();
    }

    private static void checkPort(String field, int port) {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException(field + " " + port + " is out of range 1..65535");
        }
    }

    private static <T> List<T> copy(String field, List<T> list) {
        if (list == null) {
            throw new IllegalArgumentException(field + " must not be null; use an empty list");
        }
        List<T> copy = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i) == null) {
                throw new IllegalArgumentException(field + "[" + i + "] is null");
            }
            copy.add(list.get(i));
        }
        return List.copyOf(copy);
    }
}
