package io.shunt.hijack.tc;

import io.shunt.ffi.bpf.BpfMap;
import io.shunt.hijack.policy.Cidr;

import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Reads back the maps of {@code shunt_policy.h}, which tc's and sockmap's pod objects both have,
 * for {@code describe}: what the kernel holds, not what the agent meant to write.
 */
public final class PolicyMaps {
    private PolicyMaps() {
    }

    /** An LPM trie of {@code struct shunt_lpm4} keys (the exclude and include lists), in text order. */
    public static List<Cidr> cidrs(BpfMap map) throws IOException {
        return map.keys().stream().map(TcMaps::cidrOf).sorted(Comparator.comparing(Cidr::toString)).toList();
    }

    /** A port bitmap: {@link TcMaps#PORT_WORDS} words of 64 ports each, a missing word read as empty. */
    public static long[] portBitmap(BpfMap map) throws IOException {
        long[] words = new long[TcMaps.PORT_WORDS];
        for (int w = 0; w < words.length; w++) {
            words[w] = map.lookup(TcMaps.u32(w)).map(TcMaps::u64Of).orElse(0L);
        }
        return words;
    }

    /** A set of {@code __u32} keys (uids, gids), ascending. */
    public static List<Long> u32Set(BpfMap map) throws IOException {
        return map.keys().stream().map(TcMaps::u32Of).sorted().toList();
    }

    /** {@code shunt_local4}: the pod's IPv4 addresses (keys in network order), dotted, in text order. */
    public static List<String> addresses(BpfMap map) throws IOException {
        List<String> out = new ArrayList<>();
        for (byte[] key : map.keys()) {
            out.add(InetAddress.getByAddress(key).getHostAddress());
        }
        out.sort(Comparator.naturalOrder());
        return out;
    }
}
