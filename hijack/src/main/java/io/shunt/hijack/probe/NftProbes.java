package io.shunt.hijack.probe;

import io.shunt.ffi.netns.NetNs;
import io.shunt.ffi.nft.NftException;
import io.shunt.ffi.nft.Nftables;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The nftables probes: each applies, in a scratch netns created for the probe and freed with it,
 * a table shaped like what a technique installs, and keeps nft's own error when the kernel
 * refuses. Every probe is one transaction in its own table, so one refusal cannot hide another.
 */
final class NftProbes {
    static final String REDIRECT_RULE = "meta l4proto tcp redirect to :15001";
    static final String TPROXY_RULE = "meta l4proto tcp tproxy ip to 127.0.0.1:15001";
    static final String SOCKET_RULE = "socket transparent 1 return";
    static final String REJECT_RULE = "meta mark 0x00005349 meta l4proto tcp reject with tcp reset";
    static final String CT_RULE = "ct direction reply return";
    private static final Pattern NFT_ERROR = Pattern.compile("Error: (.*)$");

    private record Attempt(Feature feature, String what, String script) {
    }

    private static final Attempt TABLE = new Attempt(Feature.NFTABLES, "creating table inet shunt_probe",
            "add table inet shunt_probe\n");

    private static final List<Attempt> DEPENDENT = List.of(
            new Attempt(Feature.NFT_REDIRECT, "'" + REDIRECT_RULE + "' in a nat output chain", """
                    table inet shunt_probe_redirect {
                    \tchain shunt_outbound_probe {
                    \t\ttype nat hook output priority -100; policy accept;
                    \t\t%s
                    \t}
                    }
                    """.formatted(REDIRECT_RULE)),
            // tproxy is followed by a reset for what it cannot place, so a missing listener refuses
            // connections instead of hanging them: both must load for the technique to work.
            new Attempt(Feature.NFT_TPROXY, "'" + TPROXY_RULE + "' and '" + REJECT_RULE + "' in a filter prerouting chain",
                    """
                    table inet shunt_probe_tproxy {
                    \tchain shunt_inbound_probe {
                    \t\ttype filter hook prerouting priority mangle; policy accept;
                    \t\t%s
                    \t\t%s
                    \t}
                    }
                    """.formatted(TPROXY_RULE, REJECT_RULE)),
            new Attempt(Feature.NFT_SOCKET, "'" + SOCKET_RULE + "' in a filter prerouting chain and, with '" + CT_RULE
                    + "', in a route output chain",
                    """
                    table inet shunt_probe_socket {
                    \tchain shunt_inbound_probe {
                    \t\ttype filter hook prerouting priority mangle; policy accept;
                    \t\t%1$s
                    \t}
                    \tchain shunt_outbound_probe {
                    \t\ttype route hook output priority mangle; policy accept;
                    \t\t%1$s
                    \t\t%2$s
                    \t}
                    }
                    """.formatted(SOCKET_RULE, CT_RULE)));

    private NftProbes() {
    }

    static Map<Feature, ProbeResult> run() {
        Map<Feature, ProbeResult> results = new EnumMap<>(Feature.class);
        NetNs scratch;
        try {
            scratch = NetNs.createScratch();
        } catch (Exception | LinkageError e) {
            ProbeResult cannot = new ProbeResult.Inconclusive("could not create a scratch netns to probe nftables in: "
                    + e.getMessage());
            results.put(TABLE.feature, cannot);
            DEPENDENT.forEach(a -> results.put(a.feature, cannot));
            return results;
        }
        try (scratch) {
            ProbeResult table = attempt(scratch, TABLE);
            results.put(TABLE.feature, table);
            for (Attempt a : DEPENDENT) {
                results.put(a.feature, switch (table) {
                    case ProbeResult.Supported s -> attempt(scratch, a);
                    case ProbeResult.Unsupported u -> new ProbeResult.Unsupported("needs nftables: " + u.reason());
                    case ProbeResult.Inconclusive i -> new ProbeResult.Inconclusive("needs nftables, which could not "
                            + "be probed: " + i.cause());
                });
            }
        }
        return results;
    }

    private static ProbeResult attempt(NetNs scratch, Attempt a) {
        try {
            scratch.run(() -> Nftables.run(a.script));
            return new ProbeResult.Supported(a.what + ": applied in a " + scratch);
        } catch (NftException e) {
            String errors = errors(e.nftErrors());
            if (errors.contains("Operation not permitted")) {
                return new ProbeResult.Inconclusive(a.what + ": nft was not permitted (needs CAP_NET_ADMIN): " + errors);
            }
            return new ProbeResult.Unsupported(a.what + ": the kernel refused it: " + errors);
        } catch (Exception | LinkageError e) {
            return new ProbeResult.Inconclusive(a.what + ": " + e.getMessage());
        }
    }

    /** nft's "Error: ..." lines, without the script excerpt and the caret line under it. */
    static String errors(String nftErrors) {
        String errors = nftErrors.lines().map(NFT_ERROR::matcher).filter(Matcher::find).map(m -> m.group(1).strip())
                .collect(Collectors.joining("; "));
        return errors.isEmpty() ? nftErrors.strip() : errors;
    }
}
