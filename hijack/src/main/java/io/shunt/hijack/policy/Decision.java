package io.shunt.hijack.policy;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.Optional;

/**
 * The fate of one outbound connection under a {@link CapturePolicy}: captured, or bypassed and why.
 *
 * @param matched the policy entry that decided, as written in the policy ({@code "10.0.0.0/8"},
 *                {@code "8000-8100"}), or the listener port when captured; empty when the
 *                decision came from a fixed rule rather than an entry
 */
public record Decision(InetAddress destination, int port, boolean captured, Reason reason, Optional<String> matched) {

    /** One per kernel rule that can decide, in rule order. */
    public enum Reason {
        NOT_IPV4("only IPv4 is captured for now"),
        LOCAL_DESTINATION("the destination is the pod itself (loopback, 0.0.0.0 or a pod address)"),
        NOT_INCLUDED("the destination is outside includeOutboundCidrs"),
        EXCLUDED_CIDR("the destination is in excludeOutboundCidrs entry"),
        EXCLUDED_PORT("the port is in excludeOutboundPorts entry"),
        CAPTURED("redirected to the outbound listener on port");

        private final String text;

        Reason(String text) {
            this.text = text;
        }
    }

    public Decision {
        if (captured != (reason == Reason.CAPTURED)) {
            throw new IllegalArgumentException("captured=" + captured + " contradicts reason " + reason);
        }
    }

    static Decision bypassed(InetAddress destination, int port, Reason reason, String matched) {
        return new Decision(destination, port, false, reason, Optional.ofNullable(matched));
    }

    /** One line for humans, e.g. {@code 10.1.2.3:80 bypassed: the destination is in excludeOutboundCidrs entry 10.0.0.0/8}. */
    public String explain() {
        String host = destination instanceof Inet6Address ? "[" + destination.getHostAddress() + "]"
                : destination.getHostAddress();
        return host + ":" + port + (captured ? " captured: " : " bypassed: ")
                + reason.text + matched.map(m -> " " + m).orElse("");
    }

    @Override
    public String toString() {
        return explain();
    }
}
