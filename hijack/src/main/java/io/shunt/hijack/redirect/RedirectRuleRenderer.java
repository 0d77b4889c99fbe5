package io.shunt.hijack.redirect;

import io.shunt.hijack.RulePlan;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Compiles a {@link CapturePolicy} to the nftables script of the {@code redirect} technique: one
 * table {@code inet shunt} per pod netns with a nat output chain (to the outbound listener) and,
 * when inbound capture is on, a nat prerouting chain (to the inbound listener).
 *
 * <p>Rule order is part of the semantics and mirrors {@link CapturePolicy#decideOutbound}: the
 * first {@code return} that matches leaves the packet alone, only what falls through is redirected.
 */
public final class RedirectRuleRenderer {
    public static final String TABLE = "inet shunt";
    public static final String CHAIN_PREFIX = "shunt_";
    public static final String OUTBOUND_CHAIN = "shunt_outbound_capture";
    public static final String INBOUND_CHAIN = "shunt_inbound_capture";

    /**
     * Declaring the table first makes the delete succeed whether or not it exists, so one
     * transaction removes any earlier version; nothing is ever half-replaced.
     */
    private static final String RESET = "table " + TABLE + " {}\ndelete table " + TABLE + "\n";

    private RedirectRuleRenderer() {
    }

    public static RulePlan plan(CapturePolicy policy) {
        return new RulePlan(TechniqueId.REDIRECT, policy, installScript(policy), removeScript());
    }

    /** One nft transaction: drop any previous {@code inet shunt} table and create the new one. */
    public static String installScript(CapturePolicy policy) {
        StringBuilder out = new StringBuilder(RESET);
        out.append("table ").append(TABLE).append(" {\n");
        out.append(chain(OUTBOUND_CHAIN, "output", outboundRules(policy)));
        if (policy.captureInbound()) {
            out.append('\n').append(chain(INBOUND_CHAIN, "prerouting", inboundRules(policy)));
        }
        return out.append("}\n").toString();
    }

    /** One nft transaction that removes the table if present and succeeds if it is not. */
    public static String removeScript() {
        return RESET;
    }

    private static List<String> outboundRules(CapturePolicy policy) {
        List<String> rules = new ArrayList<>(ipv4TcpOnly());
        // the proxy's own upstream sockets carry this mark; diverting them again would loop
        rules.add("meta mark " + String.format("0x%08x", policy.bypassMark()) + " return");
        // includes 127.0.0.0/8 and the pod's own addresses: that traffic never leaves the pod
        rules.add("fib daddr type local return");
        if (!policy.includeOutboundCidrs().isEmpty()) {
            rules.add("ip daddr != " + set(policy.includeOutboundCidrs()) + " return");
        }
        if (!policy.excludeOutboundCidrs().isEmpty()) {
            rules.add("ip daddr " + set(policy.excludeOutboundCidrs()) + " return");
        }
        if (!policy.excludeOutboundPorts().isEmpty()) {
            rules.add("tcp dport " + set(policy.excludeOutboundPorts()) + " return");
        }
        rules.add(redirect(policy.outboundPort()));
        return rules;
    }

    private static List<String> inboundRules(CapturePolicy policy) {
        List<String> rules = new ArrayList<>(ipv4TcpOnly());
        rules.add("iifname \"lo\" return");
        // only connections addressed to the pod; anything it forwards or broadcasts is not inbound
        rules.add("fib daddr type != local return");
        if (!policy.excludeInboundPorts().isEmpty()) {
            rules.add("tcp dport " + set(policy.excludeInboundPorts()) + " return");
        }
        // a peer connecting straight to a listener port must not be redirected onto the other listener
        rules.add("tcp dport " + set(List.of(policy.outboundPort(), policy.inboundPort())) + " return");
        rules.add(redirect(policy.inboundPort()));
        return rules;
    }

    /** IPv6 is never diverted, so a proxy that cannot handle it can never black-hole it. */
    private static List<String> ipv4TcpOnly() {
        return List.of("meta nfproto != ipv4 return", "meta l4proto != tcp return");
    }

    private static String redirect(int port) {
        // nft requires a transport match before a port mapping; non-TCP has already returned
        return "meta l4proto tcp redirect to :" + port;
    }

    /**
     * One base chain. Refuses names without the {@code shunt_} prefix so the renderer can never
     * emit, and a reset can never be mistaken for, a chain that belongs to someone else.
     */
    static String chain(String name, String hook, List<String> rules) {
        if (!name.startsWith(CHAIN_PREFIX)) {
            throw new IllegalStateException("refusing to render chain '" + name + "': every chain Shunt writes must "
                    + "start with '" + CHAIN_PREFIX + "'");
        }
        StringBuilder out = new StringBuilder();
        out.append("\tchain ").append(name).append(" {\n");
        out.append("\t\ttype nat hook ").append(hook).append(" priority -100; policy accept;\n");
        for (String rule : rules) {
            out.append("\t\t").append(rule).append('\n');
        }
        return out.append("\t}\n").toString();
    }

    private static String set(List<?> elements) {
        return elements.stream().map(Object::toString).collect(Collectors.joining(", ", "{ ", " }"));
    }
}
