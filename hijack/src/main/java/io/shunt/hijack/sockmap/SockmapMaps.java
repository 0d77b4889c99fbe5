package io.shunt.hijack.sockmap;

import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.SocketOwner;
import io.shunt.hijack.tc.TcMaps;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The objects, programs and maps of {@code shunt_sm_node.bpf.c} and {@code shunt_sm_pod.bpf.c}
 * (layouts in {@code shunt_sockmap.h}), as names and bytes. Pure: unit-tested without a kernel.
 */
final class SockmapMaps {
    static final String NODE_OBJECT = "shunt_sm_node";
    static final String POD_OBJECT = "shunt_sm_pod";

    // node object
    static final String MSG_PROGRAM = "shunt_sm_msg";
    static final String PROXY_SOCKOPS_PROGRAM = "shunt_sm_sockops_proxy";
    static final String GETSOCKOPT_PROGRAM = "shunt_sm_getsockopt";
    static final String PAIRS = "shunt_sm_pairs";
    static final String ORIGDST = "shunt_sm_origdst";
    static final String CONN = "shunt_sm_conn";
    static final String TCP_ONLY = "shunt_sm_tcp_only";
    static final String LISTEN = "shunt_sm_listen";
    static final String STATS = "shunt_sm_stats";
    static final String REDIRECTED = "shunt_sm_redirected";
    static final String CONSUMED = "shunt_sm_consumed";
    /** The node-wide maps: pinned once per node, shared by the node object and every pod's. */
    static final List<String> NODE_MAPS = List.of(PAIRS, ORIGDST, CONN, TCP_ONLY, LISTEN, STATS, REDIRECTED, CONSUMED);
    /** The node object's programs attached to the agent's own cgroup, with the pin of each link. */
    static final List<String> AGENT_CGROUP_PROGRAMS = List.of(PROXY_SOCKOPS_PROGRAM, GETSOCKOPT_PROGRAM);

    // pod object
    static final String CONFIG = "shunt_sm_cfg";
    // the policy maps are shunt_policy.h's, shared with tc's object
    static final String EXCLUDE4 = TcMaps.EXCLUDE4;
    static final String INCLUDE4 = TcMaps.INCLUDE4;
    static final String EXCLUDED_PORTS = TcMaps.EXCLUDED_OUT_PORTS;
    static final String EXCLUDED_UIDS = TcMaps.EXCLUDED_UIDS;
    static final String EXCLUDED_GIDS = "shunt_sm_excl_gid";
    static final String LOCAL4 = TcMaps.LOCAL4;
    static final List<String> POD_MAPS = List.of(CONFIG, EXCLUDE4, INCLUDE4, EXCLUDED_PORTS, EXCLUDED_UIDS,
            EXCLUDED_GIDS, LOCAL4);
    /** The pod object's programs, each attached to the pod's cgroup by a link pinned under its own name. */
    static final List<String> POD_PROGRAMS = List.of("shunt_sm_connect4", "shunt_sm_connect6",
            "shunt_sm_getpeername4", "shunt_sm_getpeername6", "shunt_sm_sockops_app");

    static final int FLAG_INCLUDE_LIST = 1;
    static final int CONFIG_SIZE = 24;
    static final int LISTEN_KEY_SIZE = 16;
    /** 127.0.0.1: the outbound listener's address inside every pod. */
    static final int LOOPBACK = 0x7f000001;

    /** The node counters, in the order of the enum in shunt_sockmap.h. */
    enum Counter {
        CONNECT_DIVERTED, CONNECT_EXCLUDED, APP_JOINED, PROXY_JOINED, MSG_REDIRECTED, MSG_REDIRECTED_BYTES, MSG_PASSED,
        ORIGDST_ANSWERED, ORIGDST_MISSED, WINDOW_CLOSED, PROXY_MSG_TCP;

        String label() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    private SockmapMaps() {
    }

    /** What the policy puts into a pod's maps; the pod's own parts (netns cookie, addresses) come at install. */
    record Contents(int bypassMark, int outboundPort, int flags, List<Cidr> exclude, List<Cidr> include,
                    long[] excludedPorts, List<Long> excludedUids, List<Long> excludedGids) {

        List<String> describe() {
            List<String> lines = new ArrayList<>();
            lines.add(String.format("%s: bypass mark 0x%x, outbound listener 127.0.0.1:%d, include list %s", CONFIG,
                    bypassMark, outboundPort, (flags & FLAG_INCLUDE_LIST) != 0 ? "on" : "off"));
            lines.add(INCLUDE4 + ": " + ((flags & FLAG_INCLUDE_LIST) == 0 ? "(not used: every destination is captured)"
                    : list(include.stream().map(Cidr::toString).toList())));
            lines.add(EXCLUDE4 + ": " + list(exclude.stream().map(Cidr::toString).toList()));
            lines.add(EXCLUDED_PORTS + ": " + list(TcMaps.ranges(excludedPorts)));
            lines.add(EXCLUDED_UIDS + ": " + list(excludedUids.stream().map(String::valueOf).toList()));
            lines.add(EXCLUDED_GIDS + ": " + list(excludedGids.stream().map(String::valueOf).toList()));
            return lines;
        }
    }

    /**
     * The pod map contents for {@code policy}. Owners are matched on the connecting task's uid and
     * gid ({@code bpf_get_current_uid_gid}), so both kinds of exclusion work here.
     */
    static Contents contents(CapturePolicy policy) {
        List<Long> uids = new ArrayList<>();
        List<Long> gids = new ArrayList<>();
        for (SocketOwner owner : policy.excludeOutboundOwners()) {
            List<Long> into = owner.kind() == SocketOwner.Kind.UID ? uids : gids;
            if (!into.contains(owner.id())) {
                into.add(owner.id());
            }
        }
        int flags = policy.includeOutboundCidrs().isEmpty() ? 0 : FLAG_INCLUDE_LIST;
        return new Contents(policy.bypassMark(), policy.outboundPort(), flags, List.copyOf(policy.excludeOutboundCidrs()),
                List.copyOf(policy.includeOutboundCidrs()), TcMaps.portBitmap(policy.excludeOutboundPorts()),
                List.copyOf(uids), List.copyOf(gids));
    }

    /** struct shunt_sm_cfg. */
    record Config(long netnsCookie, int listenerIp4, int sourceIp4, int bypassMark, int outboundPort, int flags) {
        byte[] bytes() {
            return ByteBuffer.allocate(CONFIG_SIZE).order(ByteOrder.nativeOrder()).putLong(netnsCookie)
                    .order(ByteOrder.BIG_ENDIAN).putInt(listenerIp4).putInt(sourceIp4)
                    .order(ByteOrder.nativeOrder()).putInt(bypassMark).putShort((short) outboundPort)
                    .putShort((short) flags).array();
        }

        static Config parse(byte[] value) {
            ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.nativeOrder());
            long cookie = b.getLong();
            b.order(ByteOrder.BIG_ENDIAN);
            int listener = b.getInt();
            int source = b.getInt();
            b.order(ByteOrder.nativeOrder());
            return new Config(cookie, listener, source, b.getInt(), Short.toUnsignedInt(b.getShort()),
                    Short.toUnsignedInt(b.getShort()));
        }
    }

    /** struct shunt_sm_listen_key: the netns cookie and the outbound listener's port. */
    static byte[] listenKey(long netnsCookie, int port) {
        return ByteBuffer.allocate(LISTEN_KEY_SIZE).order(ByteOrder.nativeOrder()).putLong(netnsCookie).putInt(port)
                .putInt(0).array();
    }

    /** An IPv4 address as the maps keep it: network order. */
    static byte[] ip4(int address) {
        return ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putInt(address).array();
    }

    /** Where the link of {@code program} is pinned in {@code folder}: {@code link_<program>}, as tc's {@code link_sk_lookup}. */
    static java.nio.file.Path linkPin(java.nio.file.Path folder, String program) {
        return folder.resolve("link_" + program);
    }

    static String dotted(int address) {
        return (address >>> 24) + "." + ((address >>> 16) & 0xff) + "." + ((address >>> 8) & 0xff) + "." + (address & 0xff);
    }

    private static String list(List<String> items) {
        return items.isEmpty() ? "(empty)" : String.join(", ", items);
    }
}
