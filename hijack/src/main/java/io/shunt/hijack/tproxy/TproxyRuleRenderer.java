package io.shunt.hijack.tproxy;

import io.shunt.hijack.RulePlan;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Compiles a {@link CapturePolicy} to the nftables script of the {@code tproxy} technique: one
 * table {@code inet shunt} per pod netns with
 * <ul>
 *   <li>a route-type output chain that marks the pod's outbound connections; the fwmark rule
 *       routes marked packets to a table whose only route delivers everything over {@code lo};</li>
 *   <li>a filter prerouting chain that TPROXYs those packets, arriving back on {@code lo}, to the
 *       outbound listener on 127.0.0.1, and, when inbound capture is on, connections addressed to
 *       the pod to the inbound listener.</li>
 * </ul>
 * The listeners are {@code IP_TRANSPARENT}; the original destination is the accepted socket's
 * local address. No NAT is involved, so the peer sees the client's own source address.
 *
 * <p>Rule order is part of the semantics: the outbound chain mirrors
 * {@link CapturePolicy#decideOutbound}, the first {@code return} that matches leaves the packet
 * alone. Two rules guard the proxy's own traffic: its transparent sockets (which answer remote
 * clients from the pod's address) are never marked, and established flows of non-transparent
 * sockets are never diverted inbound. Pure SYNs are deliberately left out of that second guard: a
 * SYN whose 4-tuple hits a TIME_WAIT socket of the proxy must still reach the listener.
 */
public final class TproxyRuleRenderer {
    public static final String TABLE = "inet shunt";
    public static final String CHAIN_PREFIX = "shunt_";
    public static final String OUTBOUND_CHAIN = "shunt_outbound_mark";
    public static final String PREROUTING_CHAIN = "shunt_prerouting_tproxy";
    /** Mangle: after conntrack (-200), before any NAT (-100); where iptables puts TPROXY and re-marking. */
    static final int PRIORITY = -150;

    /**
     * Declaring the table first makes the delete succeed whether or not it exists, so one
     * transaction removes any earlier version; nothing is ever half-replaced.
     */
    private static final String RESET = "table " + TABLE + " {}\ndelete table " + TABLE + "\n";

    private TproxyRuleRenderer() {
    }

    /**
     * @throws IllegalArgumentException when the policy's bypass mark equals the tproxy mark
     */
    public static TproxyPlan plan(CapturePolicy policy, TproxySettings settings) {
        RulePlan nft = new RulePlan(TechniqueId.TPROXY, policy, installScript(policy, settings), removeScript());
        return new TproxyPlan(nft, settings);
    }

    /** One nft transaction: drop any previous {@code inet shunt} table and create the new one. */
    public static String installScript(CapturePolicy policy, TproxySettings settings) {
        settings.checkAgainst(policy);
        StringBuilder out = new StringBuilder(RESET);
        out.append("table ").append(TABLE).append(" {\n");
        out.append(chain(OUTBOUND_CHAIN, "route", "output", outboundRules(policy, settings)));
        out.append('\n').append(chain(PREROUTING_CHAIN, "filter", "prerouting", preroutingRules(policy, settings)));
        return out.append("}\n").toString();
    }

    /** One nft transaction that removes the table if present and succeeds if it is not. */
    public static String removeScript() {
        return RESET;
    }

    /** The route the settings install, in {@code ip route} words without the verb. */
    static String routeText(TproxySettings settings) {
        return "local 0.0.0.0/0 dev lo table " + settings.table();
    }

    private static List<String> outboundRules(CapturePolicy policy, TproxySettings settings) {
        List<String> rules = new ArrayList<>(ipv4TcpOnly());
        // the proxy's transparent sockets answer remote clients from the pod's address: marking their
        // packets (a SYN-ACK to an inbound client, say) would route them back into the proxy
        rules.add("socket transparent 1 return");
        // replies of connections that came in from outside (an excluded inbound port, say) belong
        // to those connections, not to new outbound ones: marking them would route them into lo,
        // where nothing takes them (measured: such connections hung)
        rules.add("ct direction reply return");
        // the proxy's own upstream sockets carry this mark; diverting them again would loop
        rules.add("meta mark " + mark(policy.bypassMark()) + " return");
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
        // a route chain re-routes a packet whose mark changed: the fwmark rule sends it to lo, and
        // it comes back through prerouting, where the first tproxy rule below takes it
        rules.add("meta mark set " + mark(settings.mark()));
        return rules;
    }

    private static List<String> preroutingRules(CapturePolicy policy, TproxySettings settings) {
        List<String> rules = new ArrayList<>(ipv4TcpOnly());
        // nft insists on a transport match in the same rule as a tproxy statement
        rules.add("iifname \"lo\" meta mark " + mark(settings.mark()) + " meta l4proto tcp tproxy ip to 127.0.0.1:"
                + policy.outboundPort() + " accept");
        // tproxy finds no listener when the agent is gone: the packet would then be delivered
        // locally to an address that is not local, and the kernel's reset for it cannot be routed,
        // so the client would hang. Refuse it instead, as redirect does (measured both ways).
        rules.add(refuse("iifname \"lo\" ", settings));
        rules.add("iifname \"lo\" return");
        if (policy.captureInbound()) {
            // only connections addressed to the pod; anything it forwards or broadcasts is not inbound
            rules.add("fib daddr type != local return");
            if (!policy.excludeInboundPorts().isEmpty()) {
                rules.add("tcp dport " + set(policy.excludeInboundPorts()) + " return");
            }
            // a peer connecting straight to a listener port must not be diverted onto the other listener
            rules.add("tcp dport " + set(List.of(policy.outboundPort(), policy.inboundPort())) + " return");
            // established flows of ordinary sockets, e.g. replies to the proxy's upstream connections;
            // never pure SYNs, see the class comment
            rules.add("tcp flags & (fin | syn | rst | ack) != syn socket transparent 0 return");
            rules.add("meta l4proto tcp meta mark set " + mark(settings.mark()) + " tproxy ip to :"
                    + policy.inboundPort() + " accept");
            // no inbound listener (agent gone): refuse, never hang, and never bypass the proxy silently
            rules.add(refuse("", settings));
        }
        return rules;
    }

    private static String refuse(String match, TproxySettings settings) {
        return match + "meta mark " + mark(settings.mark()) + " meta l4proto tcp reject with tcp reset";
    }

    /** IPv6 is never diverted, so a proxy that cannot handle it can never black-hole it. */
    private static List<String> ipv4TcpOnly() {
        return List.of("meta nfproto != ipv4 return", "meta l4proto != tcp return");
    }

    /**
     * One base chain. Refuses names without the {@code shunt_} prefix so the renderer can never
     * emit, and a reset can never be mistaken for, a chain that belongs to someone else.
     */
    static String chain(String name, String type, String hook, List<String> rules) {
        if (!name.startsWith(CHAIN_PREFIX)) {
            throw new IllegalStateException("refusing to render chain '" + name + "': every chain Shunt writes must "
                    + "start with '" + CHAIN_PREFIX + "'");
        }
        StringBuilder out = new StringBuilder();
        out.append("\tchain ").append(name).append(" {\n");
        out.append("\t\ttype ").append(type).append(" hook ").append(hook).append(" priority ").append(PRIORITY)
                .append("; policy accept;\n");
        for (String rule : rules) {
            out.append("\t\t").append(rule).append('\n');
        }
        return out.append("\t}\n").toString();
    }

    /** Marks as nft writes them back: 32-bit hex, so negative ints read as the unsigned mark. */
    private static String mark(int mark) {
        return String.format("0x%08x", mark);
    }

    private static String set(List<?> elements) {
        return elements.stream().map(Object::toString).collect(Collectors.joining(", ", "{ ", " }"));
    }
}
