package io.shunt.hijack.tproxy;

import io.shunt.hijack.RulePlan;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.nft.NftRuleset;
import io.shunt.hijack.policy.CapturePolicy;

import java.util.ArrayList;
import java.util.List;

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
    public static final String OUTBOUND_CHAIN = "shunt_outbound_mark";
    public static final String PREROUTING_CHAIN = "shunt_prerouting_tproxy";
    /** Mangle: after conntrack (-200), before any NAT (-100); where iptables puts TPROXY and re-marking. */
    static final int PRIORITY = -150;

    private TproxyRuleRenderer() {
    }

    /**
     * @throws IllegalArgumentException when the policy's bypass mark equals the tproxy mark
     */
    public static TproxyPlan plan(CapturePolicy policy, TproxySettings settings) {
        RulePlan nft = new RulePlan(TechniqueId.TPROXY, policy, installScript(policy, settings), NftRuleset.removeScript());
        return new TproxyPlan(nft, settings);
    }

    /** One nft transaction: drop any previous {@code inet shunt} table and create the new one. */
    public static String installScript(CapturePolicy policy, TproxySettings settings) {
        settings.checkAgainst(policy);
        return NftRuleset.installScript(List.of(
                NftRuleset.chain(OUTBOUND_CHAIN, "route", "output", PRIORITY, outboundRules(policy, settings)),
                NftRuleset.chain(PREROUTING_CHAIN, "filter", "prerouting", PRIORITY, preroutingRules(policy, settings))));
    }

    /** The route the settings install, in {@code ip route} words without the verb. */
    static String routeText(TproxySettings settings) {
        return "local 0.0.0.0/0 dev lo table " + settings.table();
    }

    private static List<String> outboundRules(CapturePolicy policy, TproxySettings settings) {
        List<String> rules = new ArrayList<>(NftRuleset.ipv4TcpOnly());
        // the proxy's transparent sockets answer remote clients from the pod's address: marking their
        // packets (a SYN-ACK to an inbound client, say) would route them back into the proxy
        rules.add("socket transparent 1 return");
        // replies of connections that came in from outside (an excluded inbound port, say) belong
        // to those connections, not to new outbound ones: marking them would route them into lo,
        // where nothing takes them (measured: such connections hung)
        rules.add("ct direction reply return");
        // the proxy's own upstream sockets carry this mark; diverting them again would loop
        rules.add("meta mark " + NftRuleset.mark(policy.bypassMark()) + " return");
        // includes 127.0.0.0/8 and the pod's own addresses: that traffic never leaves the pod
        rules.add("fib daddr type local return");
        rules.addAll(NftRuleset.outboundExclusions(policy));
        // a route chain re-routes a packet whose mark changed: the fwmark rule sends it to lo, and
        // it comes back through prerouting, where the first tproxy rule below takes it
        rules.add("meta mark set " + NftRuleset.mark(settings.mark()));
        return rules;
    }

    private static List<String> preroutingRules(CapturePolicy policy, TproxySettings settings) {
        List<String> rules = new ArrayList<>(NftRuleset.ipv4TcpOnly());
        // nft insists on a transport match in the same rule as a tproxy statement
        rules.add("iifname \"lo\" meta mark " + NftRuleset.mark(settings.mark()) + " meta l4proto tcp tproxy ip to 127.0.0.1:"
                + policy.outboundPort() + " accept");
        // tproxy finds no listener when the agent is gone: the packet would then be delivered
        // locally to an address that is not local, and the kernel's reset for it cannot be routed,
        // so the client would hang. Refuse it instead, as redirect does (measured both ways).
        rules.add(refuse("iifname \"lo\" ", settings));
        rules.add("iifname \"lo\" return");
        if (policy.captureInbound()) {
            // only connections addressed to the pod; anything it forwards or broadcasts is not inbound
            rules.add("fib daddr type != local return");
            rules.addAll(NftRuleset.inboundExclusions(policy));
            // established flows of ordinary sockets, e.g. replies to the proxy's upstream connections;
            // never pure SYNs, see the class comment
            rules.add("tcp flags & (fin | syn | rst | ack) != syn socket transparent 0 return");
            rules.add("meta l4proto tcp meta mark set " + NftRuleset.mark(settings.mark()) + " tproxy ip to :"
                    + policy.inboundPort() + " accept");
            // no inbound listener (agent gone): refuse, never hang, and never bypass the proxy silently
            rules.add(refuse("", settings));
        }
        return rules;
    }

    private static String refuse(String match, TproxySettings settings) {
        return match + "meta mark " + NftRuleset.mark(settings.mark()) + " meta l4proto tcp reject with tcp reset";
    }
}
