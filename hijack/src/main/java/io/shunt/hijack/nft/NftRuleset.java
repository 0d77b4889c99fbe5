package io.shunt.hijack.nft;

import io.shunt.ffi.nft.NftException;
import io.shunt.ffi.nft.Nftables;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.SocketOwner;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What every nftables-based technique renders the same way: Shunt's one table per pod netns, the
 * chain-name guard, and the capture policy's exclusions. Keeping them in one place is what makes
 * "one exclusion model for all techniques" true.
 */
public final class NftRuleset {
    public static final String TABLE = "inet shunt";
    public static final String CHAIN_PREFIX = "shunt_";

    /**
     * Declaring the table first makes the delete succeed whether or not it exists, so one
     * transaction removes any earlier version; nothing is ever half-replaced.
     */
    private static final String RESET = "table " + TABLE + " {}\ndelete table " + TABLE + "\n";

    private NftRuleset() {
    }

    /** One transaction that replaces whatever Shunt had in the pod with these chains. */
    public static String installScript(List<String> chains) {
        return RESET + "table " + TABLE + " {\n" + String.join("\n", chains) + "}\n";
    }

    /** One transaction that removes the table if present and succeeds if it is not. */
    public static String removeScript() {
        return RESET;
    }

    /** Whether Shunt's table exists in the calling thread's network namespace. */
    public static boolean tablePresentHere() throws NftException {
        return Nftables.run("list tables").lines().anyMatch(line -> line.strip().equals("table " + TABLE));
    }

    /**
     * One base chain. Refuses names without the {@code shunt_} prefix so a renderer can never
     * emit, and a reset can never be mistaken for, a chain that belongs to someone else.
     */
    public static String chain(String name, String type, String hook, int priority, List<String> rules) {
        if (!name.startsWith(CHAIN_PREFIX)) {
            throw new IllegalStateException("refusing to render chain '" + name + "': every chain Shunt writes must "
                    + "start with '" + CHAIN_PREFIX + "'");
        }
        StringBuilder out = new StringBuilder();
        out.append("\tchain ").append(name).append(" {\n");
        out.append("\t\ttype ").append(type).append(" hook ").append(hook).append(" priority ").append(priority)
                .append("; policy accept;\n");
        for (String rule : rules) {
            out.append("\t\t").append(rule).append('\n');
        }
        return out.append("\t}\n").toString();
    }

    /** IPv6 is never diverted, so a proxy that cannot handle it can never black-hole it. */
    public static List<String> ipv4TcpOnly() {
        return List.of("meta nfproto != ipv4 return", "meta l4proto != tcp return");
    }

    /** The policy's outbound exclusions, in the order {@link CapturePolicy#decideOutbound} applies them. */
    public static List<String> outboundExclusions(CapturePolicy policy) {
        List<String> rules = new ArrayList<>();
        if (!policy.includeOutboundCidrs().isEmpty()) {
            rules.add("ip daddr != " + set(policy.includeOutboundCidrs()) + " return");
        }
        if (!policy.excludeOutboundCidrs().isEmpty()) {
            rules.add("ip daddr " + set(policy.excludeOutboundCidrs()) + " return");
        }
        if (!policy.excludeOutboundPorts().isEmpty()) {
            rules.add("tcp dport " + set(policy.excludeOutboundPorts()) + " return");
        }
        for (SocketOwner.Kind kind : SocketOwner.Kind.values()) {
            List<String> ids = policy.excludeOutboundOwners().stream().filter(o -> o.kind() == kind)
                    .map(o -> Long.toString(o.id())).toList();
            if (!ids.isEmpty()) {
                rules.add(kind.nftMatch() + " { " + String.join(", ", ids) + " } return");
            }
        }
        return rules;
    }

    /**
     * The policy's inbound exclusions, then the listener ports: a peer connecting straight to a
     * listener port must not be diverted onto the other listener.
     */
    public static List<String> inboundExclusions(CapturePolicy policy) {
        List<String> rules = new ArrayList<>();
        if (!policy.excludeInboundPorts().isEmpty()) {
            rules.add("tcp dport " + set(policy.excludeInboundPorts()) + " return");
        }
        rules.add("tcp dport " + set(List.of(policy.outboundPort(), policy.inboundPort())) + " return");
        return rules;
    }

    /** Marks as nft writes them back: 32-bit hex, so negative ints read as the unsigned mark. */
    public static String mark(int mark) {
        return String.format("0x%08x", mark);
    }

    private static String set(List<?> elements) {
        return elements.stream().map(Object::toString).collect(Collectors.joining(", ", "{ ", " }"));
    }
}
