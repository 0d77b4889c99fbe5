package io.shunt.cli;

import io.shunt.api.admin.Views;

import java.io.PrintWriter;
import java.util.List;

/** The capture policy as a few aligned lines, shared by {@code status} and {@code exclude list}. */
final class PolicyText {
    private PolicyText() {
    }

    static void print(Views.Policy p, PrintWriter o) {
        o.println("listeners:  outbound 127.0.0.1:" + p.outboundPort() + ", inbound "
                + (p.captureInbound() ? "0.0.0.0:" + p.inboundPort() : "not captured") + "; bypass mark " + p.bypassMark());
        o.println("include:    outbound " + list(p.includeOutboundCidrs(), "every destination"));
        o.println("exclude:    cidr " + list(p.excludeOutboundCidrs(), "none") + "; port "
                + list(p.excludeOutboundPorts(), "none") + "; inbound-port " + list(p.excludeInboundPorts(), "none")
                + "; owner " + list(p.excludeOutboundOwners(), "none"));
    }

    private static String list(List<String> values, String empty) {
        return values.isEmpty() ? empty : String.join(",", values);
    }
}
