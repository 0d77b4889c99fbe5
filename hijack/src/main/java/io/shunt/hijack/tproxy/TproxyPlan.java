package io.shunt.hijack.tproxy;

import io.shunt.hijack.RulePlan;

import java.util.List;
import java.util.Objects;

/**
 * Everything the {@code tproxy} technique does to a pod for a policy: the nftables part, as a
 * {@link RulePlan} like every technique's, plus the policy routing that {@link RulePlan} has no
 * room for. {@link TproxyHijacker#install} applies the routing first, then the nft script.
 */
public record TproxyPlan(RulePlan nft, TproxySettings settings) {

    public TproxyPlan {
        Objects.requireNonNull(nft, "nft");
        Objects.requireNonNull(settings, "settings");
    }

    /** The policy routing as the equivalent {@code ip} commands (applied over rtnetlink, not by running ip). */
    public List<String> routingSteps() {
        return List.of(
                "ip rule add " + settings.rule(),
                "ip route add " + TproxyRuleRenderer.routeText(settings));
    }

    /**
     * The whole plan as one text that {@code nft -f} still accepts: the routing steps as comments,
     * then the install script.
     */
    @Override
    public String toString() {
        StringBuilder out = new StringBuilder("# policy routing, applied over rtnetlink before the nft script:\n");
        routingSteps().forEach(step -> out.append("# ").append(step).append('\n'));
        return out.append(nft.nftScript()).toString();
    }
}
