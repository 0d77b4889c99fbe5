package io.shunt.hijack;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The interception techniques Shunt implements. {@link #id()} is the one word used for a technique
 * everywhere: config, CLI, metrics labels, and the class name ({@code redirect} →
 * {@code RedirectHijacker}). Only techniques that exist in code are listed.
 */
public enum TechniqueId {
    /** nftables DNAT inside the pod netns: nat output → outbound listener, prerouting → inbound listener. */
    REDIRECT("redirect"),
    /** nftables TPROXY plus an fwmark policy route inside the pod netns, to IP_TRANSPARENT listeners. */
    TPROXY("tproxy"),
    /** eBPF, no netfilter: a tc egress program hairpins outbound SYNs into lo, an sk_lookup program hands them to the listeners. */
    TC("tc"),
    /**
     * eBPF on the pod's cgroup: connect4/connect6 send the app's connect() to the outbound listener,
     * sockops and sk_msg move the bytes between the app's and the proxy's sockets without the
     * loopback TCP stack; inbound as tc does (sk_lookup).
     */
    SOCKMAP("sockmap");

    private final String id;

    TechniqueId(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** The technique named {@code id} in config or on the command line. */
    public static TechniqueId fromId(String id) {
        for (TechniqueId t : values()) {
            if (t.id.equals(id)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown technique '" + id + "'; known techniques: "
                + Arrays.stream(values()).map(TechniqueId::id).collect(Collectors.joining(", ")));
    }

    @Override
    public String toString() {
        return id;
    }
}
