package io.shunt.hijack.tc;

import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import io.shunt.hijack.policy.SocketOwner;
import io.shunt.hijack.tproxy.TproxySettings;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The maps of {@code shunt_tc.bpf.c} as bytes: names, layouts and flags exactly as the C source
 * declares them (host byte order unless a field says network order). Pure: rendering a policy into
 * map contents and back needs no kernel, so it is unit-tested on its own. The encoders of keys and
 * values that any Shunt BPF map uses (u32, u64, LPM keys, port bitmaps) are public: the sockmap
 * technique's maps share the layouts.
 */
public final class TcMaps {
    static final String OBJECT = "shunt_tc";
    static final String EGRESS_PROGRAM = "shunt_eth_egress";
    static final String INGRESS_PROGRAM = "shunt_eth_ingress";
    static final String SK_LOOKUP_PROGRAM = "shunt_sk_lookup";

    static final String CONFIG = "shunt_tc_cfg";
    // public: shunt_policy.h's maps, which sockmap's pod object has too (the in-ports map is tc's own)
    public static final String EXCLUDE4 = "shunt_excl4";
    public static final String INCLUDE4 = "shunt_incl4";
    public static final String EXCLUDED_OUT_PORTS = "shunt_excl_out_ports";
    static final String EXCLUDED_IN_PORTS = "shunt_excl_in_ports";
    public static final String EXCLUDED_UIDS = "shunt_excl_uid";
    public static final String LOCAL4 = "shunt_local4";
    static final String LISTENERS = "shunt_listeners";
    static final String STATS = "shunt_tc_stats";
    /** Every map of the object; each is pinned in the pod's folder. */
    static final List<String> ALL = List.of(CONFIG, EXCLUDE4, INCLUDE4, EXCLUDED_OUT_PORTS, EXCLUDED_IN_PORTS,
            EXCLUDED_UIDS, LOCAL4, LISTENERS, STATS);
    static final int FLAG_INCLUDE_LIST = 1;
    static final int FLAG_CAPTURE_INBOUND = 2;
    static final int LISTENER_OUT = 0;
    static final int LISTENER_IN = 1;
    /** Port bitmaps: 1024 words of 64 bits, bit p%64 of word p/64. */
    public static final int PORT_WORDS = 1024;
    static final int CONFIG_SIZE = 24;

    private TcMaps() {
    }

    /** What the policy puts into the maps; the pod-specific parts (lo, addresses, listeners) come at install. */
    record Contents(int bypassMark, int divertMark, int outboundPort, int inboundPort, int flags,
                    List<Cidr> exclude, List<Cidr> include, long[] excludedOutPorts, long[] excludedInPorts,
                    List<Long> excludedUids) {

        /** The contents as {@code shuntctl rules} shows them, one line per map; the same for a plan and for what is read back. */
        List<String> describe() {
            List<String> lines = new ArrayList<>();
            lines.add(String.format("%s: bypass mark 0x%x, divert mark 0x%x, outbound listener port %d, inbound listener "
                            + "port %d, include list %s, capture inbound %s", CONFIG, bypassMark, divertMark, outboundPort,
                    inboundPort, (flags & FLAG_INCLUDE_LIST) != 0 ? "on" : "off",
                    (flags & FLAG_CAPTURE_INBOUND) != 0 ? "on" : "off"));
            lines.add(INCLUDE4 + ": " + ((flags & FLAG_INCLUDE_LIST) == 0 ? "(not used: every destination is captured)"
                    : list(include.stream().map(Cidr::toString).toList())));
            lines.add(EXCLUDE4 + ": " + list(exclude.stream().map(Cidr::toString).toList()));
            lines.add(EXCLUDED_OUT_PORTS + ": " + list(ranges(excludedOutPorts)));
            lines.add(EXCLUDED_IN_PORTS + ": " + list(ranges(excludedInPorts)));
            lines.add(EXCLUDED_UIDS + ": " + list(excludedUids.stream().map(String::valueOf).toList()));
            return lines;
        }
    }

    /**
     * The map contents for {@code policy}.
     *
     * @throws IllegalArgumentException for a policy the tc technique cannot carry out: a group-id
     *                                  owner exclusion, or a bypass mark equal to the divert mark
     */
    static Contents contents(CapturePolicy policy, TproxySettings routing) {
        if (policy.bypassMark() == routing.mark()) {
            throw new IllegalArgumentException(String.format("the policy's bypassMark 0x%x equals the tc divert mark; "
                    + "the two must differ (defaults: bypassMark 0x%x, tc divert mark 0x%x)", routing.mark(),
                    CapturePolicy.DEFAULT_BYPASS_MARK, TcHijacker.DEFAULT_ROUTING.mark()));
        }
        List<Long> uids = new ArrayList<>();
        for (SocketOwner owner : policy.excludeOutboundOwners()) {
            if (owner.kind() != SocketOwner.Kind.UID) {
                throw new IllegalArgumentException("the tc technique cannot exclude socket owners by group id ("
                        + owner.kind().prefix() + " " + owner.id() + "): its egress program sees a socket's uid "
                        + "(bpf_get_socket_uid) but no group; exclude by uid, or let the pod use tproxy or redirect "
                        + "(pin it with the technique annotation, or leave tc out of the ranking)");
            }
            if (!uids.contains(owner.id())) {
                uids.add(owner.id());
            }
        }
        int flags = (policy.includeOutboundCidrs().isEmpty() ? 0 : FLAG_INCLUDE_LIST)
                | (policy.captureInbound() ? FLAG_CAPTURE_INBOUND : 0);
        return new Contents(policy.bypassMark(), routing.mark(), policy.outboundPort(), policy.inboundPort(), flags,
                List.copyOf(policy.excludeOutboundCidrs()), List.copyOf(policy.includeOutboundCidrs()),
                portBitmap(policy.excludeOutboundPorts()), portBitmap(policy.excludeInboundPorts()), List.copyOf(uids));
    }

    public static long[] portBitmap(List<PortRange> ranges) {
        long[] words = new long[PORT_WORDS];
        for (PortRange r : ranges) {
            for (int p = r.lo(); p <= r.hi(); p++) {
                words[p >>> 6] |= 1L << (p & 63);
            }
        }
        return words;
    }

    /** The set bits of a port bitmap as ranges, e.g. {@code 80, 8000-8080}. */
    public static List<String> ranges(long[] words) {
        List<String> out = new ArrayList<>();
        int start = -1;
        for (int p = 0; p <= PORT_WORDS * 64; p++) {
            boolean set = p < PORT_WORDS * 64 && (words[p >>> 6] & (1L << (p & 63))) != 0;
            if (set && start < 0) {
                start = p;
            } else if (!set && start >= 0) {
                out.add(start == p - 1 ? Integer.toString(start) : start + "-" + (p - 1));
                start = -1;
            }
        }
        return out;
    }

    private static String list(List<String> items) {
        return items.isEmpty() ? "(empty)" : String.join(", ", items);
    }

    /** struct shunt_tc_cfg. */
    static byte[] config(int loIfindex, Contents c, int acceptLocalBefore) {
        return ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.nativeOrder())
                .putInt(loIfindex).putInt(c.bypassMark()).putInt(c.divertMark())
                .putShort((short) c.outboundPort()).putShort((short) c.inboundPort())
                .putInt(c.flags()).putInt(acceptLocalBefore).array();
    }

    /** The fields of struct shunt_tc_cfg that user space reads back. */
    record Config(int loIfindex, int bypassMark, int divertMark, int outboundPort, int inboundPort, int flags,
                  int acceptLocalBefore) {
        static Config parse(byte[] value) {
            ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.nativeOrder());
            return new Config(b.getInt(), b.getInt(), b.getInt(), Short.toUnsignedInt(b.getShort()),
                    Short.toUnsignedInt(b.getShort()), b.getInt(), b.getInt());
        }
    }

    /** struct shunt_lpm4: prefix length in host order, address in network order. */
    public static byte[] lpmKey(Cidr cidr) {
        return ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putInt(cidr.prefixLength())
                .order(ByteOrder.BIG_ENDIAN).putInt(cidr.network()).array();
    }

    public static Cidr cidrOf(byte[] lpmKey) {
        ByteBuffer b = ByteBuffer.wrap(lpmKey);
        int prefix = b.order(ByteOrder.nativeOrder()).getInt();
        return new Cidr(b.order(ByteOrder.BIG_ENDIAN).getInt(), prefix);
    }

    /** A __u32 key or value in host order. */
    public static byte[] u32(long value) {
        return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt((int) value).array();
    }

    public static long u32Of(byte[] bytes) {
        return Integer.toUnsignedLong(ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).getInt());
    }

    /** A __u64 value in host order. */
    public static byte[] u64(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(value).array();
    }

    public static long u64Of(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder()).getLong();
    }

    /** The value of a set member (the maps used as sets hold a __u8 1). */
    public static final byte[] PRESENT = {1};
}
