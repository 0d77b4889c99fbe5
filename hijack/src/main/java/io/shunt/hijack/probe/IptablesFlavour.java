package io.shunt.hijack.probe;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which iptables the host's {@code iptables} binary is. Shunt itself never uses iptables; the
 * flavour says where foreign rules would live: in nftables tables ({@code nf_tables}) or in the
 * legacy x_tables ({@code legacy}, see {@link LegacyIptables}).
 */
public enum IptablesFlavour {
    /** iptables-nft: its rules are nftables tables ({@code ip filter}, {@code ip nat}, ...). */
    NF_TABLES("nf_tables"),
    /** iptables-legacy: its rules live in x_tables, invisible to nft. */
    LEGACY("legacy"),
    /** No iptables binary on the host. */
    ABSENT("absent"),
    /** The binary exists, but {@code iptables -V} failed, timed out or printed something unexpected. */
    UNKNOWN("unknown");

    private static final Pattern VERSION = Pattern.compile("^iptables v(\\d+)\\.(\\d+)[^\\s(]*(?:\\s+\\((\\S+)\\))?\\s*$");

    private final String id;

    IptablesFlavour(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /**
     * Reads the output of {@code iptables -V}, e.g. {@code iptables v1.8.9 (nf_tables)}. Versions
     * before 1.8 print no flavour and only exist as legacy.
     */
    static IptablesFlavour fromVersionOutput(String output) {
        Matcher m = VERSION.matcher(output.strip());
        if (!m.matches()) {
            return UNKNOWN;
        }
        if (m.group(3) == null) {
            int major = Integer.parseInt(m.group(1));
            int minor = Integer.parseInt(m.group(2));
            return major == 1 && minor < 8 ? LEGACY : UNKNOWN;
        }
        return switch (m.group(3)) {
            case "nf_tables" -> NF_TABLES;
            case "legacy" -> LEGACY;
            default -> UNKNOWN;
        };
    }

    @Override
    public String toString() {
        return id;
    }
}
