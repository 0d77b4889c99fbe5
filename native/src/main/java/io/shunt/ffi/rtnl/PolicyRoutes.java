package io.shunt.ffi.rtnl;

import io.shunt.ffi.libc.NativeCallException;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.shunt.ffi.rtnl.Netlink.AF_INET;
import static io.shunt.ffi.rtnl.Netlink.FR_ACT_TO_TBL;
import static io.shunt.ffi.rtnl.Netlink.FRA_FWMARK;
import static io.shunt.ffi.rtnl.Netlink.FRA_FWMASK;
import static io.shunt.ffi.rtnl.Netlink.FRA_PRIORITY;
import static io.shunt.ffi.rtnl.Netlink.FRA_TABLE;
import static io.shunt.ffi.rtnl.Netlink.NLM_F_CREATE;
import static io.shunt.ffi.rtnl.Netlink.NLM_F_EXCL;
import static io.shunt.ffi.rtnl.Netlink.RTA_DST;
import static io.shunt.ffi.rtnl.Netlink.RTA_OIF;
import static io.shunt.ffi.rtnl.Netlink.RTA_TABLE;
import static io.shunt.ffi.rtnl.Netlink.RTN_LOCAL;
import static io.shunt.ffi.rtnl.Netlink.RT_SCOPE_HOST;
import static io.shunt.ffi.rtnl.Netlink.RT_TABLE_UNSPEC;

/**
 * IPv4 policy routing over rtnetlink, without an {@code ip} subprocess: the fwmark rules and
 * the "everything is local" route a transparent proxy needs. Every call works in the network
 * namespace of the calling thread (enter a pod's with {@code NetNs.run} first) and is one request
 * on its own netlink socket, opened and closed inside the call.
 *
 * <p>Adds and deletes are strict, like {@code ip rule add/del} and {@code ip route add/del}: adding
 * what exists fails with EEXIST, deleting what does not exist fails with the kernel's answer, which
 * is ENOENT for a rule and ESRCH for a route. Callers that want idempotence ask first
 * ({@link #fwmarkRules}, {@link #hasLocalDefaultRoute}). Kernel refusals are
 * {@link RtnetlinkException}s naming the request, e.g.
 * {@code RTM_NEWRULE fwmark 0x5349 table 21321 priority 100 failed: EEXIST (File exists)}.
 */
public final class PolicyRoutes {
    /** The loopback device is the first registered in every namespace (the kernel's LOOPBACK_IFINDEX). */
    static final int LOOPBACK_IFINDEX = 1;

    /**
     * Attributes that do not narrow which packets a rule matches. A dumped rule with any other
     * attribute (from, to, iif, oif, uid range, ports, ...) is more than a plain fwmark rule. The
     * kernel dumps the two suppressors on every rule, -1 meaning "off".
     */
    private static final Set<Integer> PLAIN_RULE_ATTRIBUTES = Set.of(FRA_PRIORITY, FRA_FWMARK, FRA_FWMASK, FRA_TABLE,
            Netlink.FRA_PAD, Netlink.FRA_PROTOCOL, Netlink.FRA_SUPPRESS_PREFIXLEN, Netlink.FRA_SUPPRESS_IFGROUP);

    private PolicyRoutes() {
    }

    /**
     * {@code ip rule add fwmark MARK lookup TABLE priority PRIORITY}: IPv4 packets whose mark is
     * exactly {@code mark} are routed by {@code table}.
     *
     * @throws RtnetlinkException EEXIST when the same rule is already there
     */
    public static void addFwmarkRule(int mark, int table, int priority) throws NativeCallException {
        checkRule(mark, table, priority);
        request(Netlink.RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, ruleBody(mark, table, priority),
                "RTM_NEWRULE " + ruleText(mark, table, priority));
    }

    /**
     * {@code ip rule del fwmark MARK lookup TABLE priority PRIORITY}.
     *
     * @throws RtnetlinkException ENOENT when no such rule exists
     */
    public static void deleteFwmarkRule(int mark, int table, int priority) throws NativeCallException {
        checkRule(mark, table, priority);
        request(Netlink.RTM_DELRULE, 0, ruleBody(mark, table, priority),
                "RTM_DELRULE " + ruleText(mark, table, priority));
    }

    /**
     * The IPv4 rules that send marked packets to a table and select on nothing but the mark, in the
     * kernel's order (by priority). Rules with further selectors ({@code from}, {@code iif}, ...),
     * an inverted match ({@code not}) or another action than a table lookup are not listed.
     */
    public static List<FwmarkRule> fwmarkRules() throws NativeCallException {
        List<FwmarkRule> rules = new ArrayList<>();
        byte[] body = new Netlink.Body(AF_INET, 0, 0, 0, 0, 0, 0, 0).bytes();
        for (Netlink.Message m : dump(Netlink.RTM_GETRULE, body, "RTM_GETRULE dump (IPv4 rules)")) {
            // struct fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action; u32 flags
            if (m.type() != Netlink.RTM_NEWRULE || m.u8(0) != AF_INET || m.u8(1) != 0 || m.u8(2) != 0
                    || m.u8(3) != 0 || m.u8(7) != FR_ACT_TO_TBL || (m.u32(8) & Netlink.FIB_RULE_INVERT) != 0) {
                continue;
            }
            Map<Integer, ByteBuffer> attrs = m.attributes();
            if (!attrs.containsKey(FRA_FWMARK) || !PLAIN_RULE_ATTRIBUTES.containsAll(attrs.keySet())
                    || suppresses(attrs, Netlink.FRA_SUPPRESS_PREFIXLEN) || suppresses(attrs, Netlink.FRA_SUPPRESS_IFGROUP)) {
                continue;
            }
            int mask = attrs.containsKey(FRA_FWMASK) ? attrs.get(FRA_FWMASK).getInt(0) : FwmarkRule.FULL_MASK;
            int table = attrs.containsKey(FRA_TABLE) ? attrs.get(FRA_TABLE).getInt(0) : m.u8(4);
            int priority = attrs.containsKey(FRA_PRIORITY) ? attrs.get(FRA_PRIORITY).getInt(0) : 0;
            rules.add(new FwmarkRule(attrs.get(FRA_FWMARK).getInt(0), mask, table, priority));
        }
        return List.copyOf(rules);
    }

    /**
     * {@code ip route add local 0.0.0.0/0 dev lo table TABLE}: every IPv4 destination looked up in
     * {@code table} is delivered locally, which is where a TPROXY rule can then pick it up.
     *
     * @throws RtnetlinkException EEXIST when the table already has a default route of any kind
     */
    public static void addLocalDefaultRoute(int table) throws NativeCallException {
        checkTable(table);
        request(Netlink.RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, routeBody(table),
                "RTM_NEWROUTE " + routeText(table));
    }

    /**
     * {@code ip route del local 0.0.0.0/0 dev lo table TABLE}.
     *
     * @throws RtnetlinkException ESRCH when the route (or the whole table) does not exist
     */
    public static void deleteLocalDefaultRoute(int table) throws NativeCallException {
        checkTable(table);
        request(Netlink.RTM_DELROUTE, 0, routeBody(table), "RTM_DELROUTE " + routeText(table));
    }

    /** Whether {@code table} holds {@code local 0.0.0.0/0 dev lo}. */
    public static boolean hasLocalDefaultRoute(int table) throws NativeCallException {
        checkTable(table);
        byte[] body = new Netlink.Body(AF_INET, 0, 0, 0, 0, 0, 0, 0).bytes();
        for (Netlink.Message m : dump(Netlink.RTM_GETROUTE, body, "RTM_GETROUTE dump (IPv4 routes)")) {
            // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags
            if (m.type() != Netlink.RTM_NEWROUTE || m.u8(0) != AF_INET || m.u8(1) != 0 || m.u8(7) != RTN_LOCAL) {
                continue;
            }
            Map<Integer, ByteBuffer> attrs = m.attributes();
            int routeTable = attrs.containsKey(RTA_TABLE) ? attrs.get(RTA_TABLE).getInt(0) : m.u8(4);
            boolean viaLoopback = attrs.containsKey(RTA_OIF) && attrs.get(RTA_OIF).getInt(0) == LOOPBACK_IFINDEX;
            if (routeTable == table && viaLoopback && !attrs.containsKey(RTA_DST)) {
                return true;
            }
        }
        return false;
    }

    /** Whether a rule sets a suppressor ({@code suppress_prefixlength}, {@code suppress_ifgroup}). */
    private static boolean suppresses(Map<Integer, ByteBuffer> attrs, int type) {
        return attrs.containsKey(type) && attrs.get(type).getInt(0) != -1;
    }

    private static byte[] ruleBody(int mark, int table, int priority) {
        // the one-byte table field only holds ids below 256; FRA_TABLE holds any and wins
        return new Netlink.Body(AF_INET, 0, 0, 0, table < 256 ? table : RT_TABLE_UNSPEC, 0, 0, FR_ACT_TO_TBL)
                .u32(FRA_PRIORITY, priority)
                .u32(FRA_FWMARK, mark)
                .u32(FRA_FWMASK, FwmarkRule.FULL_MASK)
                .u32(FRA_TABLE, table)
                .bytes();
    }

    private static byte[] routeBody(int table) {
        // no RTA_DST and dst_len 0: the default route; host scope, like every local route
        return new Netlink.Body(AF_INET, 0, 0, 0, table < 256 ? table : RT_TABLE_UNSPEC, Netlink.RTPROT_BOOT,
                RT_SCOPE_HOST, RTN_LOCAL)
                .u32(RTA_TABLE, table)
                .u32(RTA_OIF, LOOPBACK_IFINDEX)
                .bytes();
    }

    private static String ruleText(int mark, int table, int priority) {
        return "fwmark 0x" + Integer.toHexString(mark) + " table " + table + " priority " + priority;
    }

    private static String routeText(int table) {
        return "local 0.0.0.0/0 dev lo table " + table;
    }

    private static void request(int type, int flags, byte[] body, String what) throws NativeCallException {
        try (NetlinkSocket socket = NetlinkSocket.open()) {
            socket.request(type, flags, body, what);
        }
    }

    private static List<Netlink.Message> dump(int type, byte[] body, String what) throws NativeCallException {
        try (NetlinkSocket socket = NetlinkSocket.open()) {
            return socket.dump(type, body, what);
        }
    }

    private static void checkRule(int mark, int table, int priority) {
        if (mark == 0) {
            throw new IllegalArgumentException("fwmark 0 is the mark of every unmarked packet; a rule for it would "
                    + "send all traffic to table " + table);
        }
        checkTable(table);
        if (priority <= 0) {
            throw new IllegalArgumentException("rule priority " + priority + " is out of range 1.."
                    + Integer.MAX_VALUE + " (0 is the rule that looks up the local table)");
        }
    }

    /**
     * Refuses the tables the kernel reserves: a local default route in {@code main} or
     * {@code local} would make every address in the namespace local.
     */
    static void checkTable(int table) {
        String reserved = switch (table) {
            case 0 -> "0 (unspec)";
            case 252 -> "252 (compat)";
            case 253 -> "253 (default)";
            case 254 -> "254 (main)";
            case 255 -> "255 (local)";
            default -> null;
        };
        if (reserved != null) {
            throw new IllegalArgumentException("routing table " + reserved + " is reserved by the kernel; "
                    + "use a table of your own (1..251 or 256.." + Integer.MAX_VALUE + ")");
        }
        if (table < 0) {
            throw new IllegalArgumentException("routing table " + table + " is out of range 1.." + Integer.MAX_VALUE);
        }
    }
}
