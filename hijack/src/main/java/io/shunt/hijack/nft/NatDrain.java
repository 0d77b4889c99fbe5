package io.shunt.hijack.nft;

import io.shunt.ffi.netns.NetNs;
import io.shunt.ffi.nft.Nftables;

import java.io.IOException;

/**
 * Keeps the connections a pod opened under {@code redirect} working after its rules are replaced
 * by another technique's. Their translation lives in conntrack's NAT bindings, which the kernel
 * applies only while (a) some nat chain keeps the NAT hooks registered in the namespace and (b)
 * some rule keeps conntrack itself running there. Remove the last redirect rule without either,
 * and every established redirected connection loses its translation and is reset; measured on
 * 6.18 with a scratch namespace. This table holds both, with no rule that changes a packet,
 * until the redirected connections have ended.
 */
public final class NatDrain {
    public static final String TABLE = "inet shunt_drain";
    private static final String SCRIPT = """
            table inet shunt_drain {
            \tchain shunt_nat_keep {
            \t\ttype nat hook output priority 100; policy accept;
            \t}
            \tchain shunt_conntrack_keep {
            \t\ttype filter hook output priority 300; policy accept;
            \t\tct state invalid counter
            \t}
            }
            """;

    private NatDrain() {
    }

    /** Adds the drain table (idempotent). */
    public static void install(NetNs pod) throws IOException {
        pod.run(() -> Nftables.run("table " + TABLE + " {}\ndelete table " + TABLE + "\n" + SCRIPT));
    }

    /** Removes it; succeeds when it is not there. */
    public static void remove(NetNs pod) throws IOException {
        pod.run(() -> Nftables.run("table " + TABLE + " {}\ndelete table " + TABLE + "\n"));
    }

    public static boolean present(NetNs pod) throws IOException {
        return pod.run(() -> Nftables.run("list tables").lines().anyMatch(l -> l.strip().equals("table " + TABLE)));
    }
}
