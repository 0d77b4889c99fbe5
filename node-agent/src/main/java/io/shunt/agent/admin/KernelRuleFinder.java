package io.shunt.agent.admin;

import io.shunt.hijack.policy.Decision;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Finds, in a pod's installed nftables ruleset (as {@code nft list} prints it), the outbound rule
 * that carries out a policy {@link Decision}. Every nftables technique compiles the policy into
 * one outbound chain in the same order as {@code CapturePolicy.decideOutbound}: one {@code return}
 * rule per bypass reason, then the capture action last. The decision says which rule must match;
 * this shows the operator that rule as the kernel holds it.
 */
final class KernelRuleFinder {
    private KernelRuleFinder() {
    }

    static Optional<String> ruleFor(Decision decision, String installed) {
        List<String> chain = outboundChain(installed);
        if (chain.isEmpty()) {
            return Optional.empty();
        }
        Predicate<String> matches = switch (decision.reason()) {
            case NOT_IPV4 -> r -> r.startsWith("meta nfproto != ipv4");
            case LOCAL_DESTINATION -> r -> r.startsWith("fib daddr type local");
            case NOT_INCLUDED -> r -> r.startsWith("ip daddr != ");
            case EXCLUDED_CIDR -> r -> r.startsWith("ip daddr ") && !r.startsWith("ip daddr != ") && r.endsWith("return");
            case EXCLUDED_PORT -> r -> r.startsWith("tcp dport ") && r.endsWith("return");
            case CAPTURED -> r -> false;
        };
        if (decision.captured()) {
            return Optional.of(chain.getLast());
        }
        return chain.stream().filter(matches).findFirst();
    }

    /** The rules of the chain on the output hook, without its type line. */
    private static List<String> outboundChain(String installed) {
        List<String> rules = new ArrayList<>();
        boolean inChain = false;
        boolean outbound = false;
        for (String raw : installed.lines().toList()) {
            String line = raw.strip();
            if (line.startsWith("chain ")) {
                inChain = true;
                outbound = false;
                rules.clear();
            } else if (inChain && line.equals("}")) {
                if (outbound) {
                    return rules;
                }
                inChain = false;
            } else if (inChain && line.startsWith("type ")) {
                outbound = line.contains("hook output");
            } else if (inChain && !line.isEmpty()) {
                rules.add(line.replaceAll(" # handle \\d+$", ""));
            }
        }
        return List.of();
    }
}
