package io.shunt.hijack.redirect;

import io.shunt.hijack.RulePlan;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.nft.NftRuleset;
import io.shunt.hijack.policy.CapturePolicy;

import java.util.ArrayList;
import java.util.List;

/**
 * Compiles a {@link CapturePolicy} to the nftables script of the {@code redirect} technique: one
 * table {@code inet shunt} per pod netns with a nat output chain (to the outbound listener) and,
 * when inbound capture is on, a nat prerouting chain (to the inbound listener).
 *
 * <p>Rule order is part of the semantics and mirrors {@link CapturePolicy#decideOutbound}: the
 * first {@code return} that matches leaves the packet alone, only what falls through is redirected.
 */
public final class RedirectRuleRenderer {
    public static final String OUTBOUND_CHAIN = "shunt_outbound_capture";
    public static final String INBOUND_CHAIN = "shunt_inbound_capture";
    /** Where nat chains go; DNAT must run before routing decides on the rewritten address. */
    private static final int PRIORITY = -100;

    private RedirectRuleRenderer() {
    }

    public static RulePlan plan(CapturePolicy policy) {
        return new RulePlan(TechniqueId.REDIRECT, policy, installScript(policy), NftRuleset.removeScript());
    }

    /** One nft transaction: drop any previous {@code inet shunt} table and create the new one. */
    public static String installScript(CapturePolicy policy) {
        List<String> chains = new ArrayList<>();
        chains.add(NftRuleset.chain(OUTBOUND_CHAIN, "nat", "output", PRIORITY, outboundRules(policy)));
        if (policy.captureInbound()) {
            chains.add(NftRuleset.chain(INBOUND_CHAIN, "nat", "prerouting", PRIORITY, inboundRules(policy)));
        }
        return NftRuleset.installScript(chains);
    }

    private static List<String> outboundRules(CapturePolicy policy) {
        List<String> rules = new ArrayList<>(NftRuleset.ipv4TcpOnly());
        // the proxy's own upstream sockets carry this mark; diverting them again would loop
        rules.add("meta mark " + NftRuleset.mark(policy.bypassMark()) + " return");
        // includes 127.0.0.0/8 and the pod's own addresses: that traffic never leaves the pod
        rules.add("fib daddr type local return");
        rules.addAll(NftRuleset.outboundExclusions(policy));
        rules.add(redirect(policy.outboundPort()));
        return rules;
    }

    private static List<String> inboundRules(CapturePolicy policy) {
        List<String> rules = new ArrayList<>(NftRuleset.ipv4TcpOnly());
        rules.add("iifname \"lo\" return");
        // only connections addressed to the pod; anything it forwards or broadcasts is not inbound
        rules.add("fib daddr type != local return");
        rules.addAll(NftRuleset.inboundExclusions(policy));
        rules.add(redirect(policy.inboundPort()));
        return rules;
    }

    private static String redirect(int port) {
        // nft requires a transport match before a port mapping; non-TCP has already returned
        return "meta l4proto tcp redirect to :" + port;
    }
}
