package io.shunt.ffi.rtnl;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

/**
 * Netlink constants (checked against linux/netlink.h, rtnetlink.h and fib_rules.h) and the
 * encoding of messages and attributes. Netlink headers and integer attributes are in host byte
 * order; every length is padded to 4 bytes.
 */
final class Netlink {
    static final int AF_NETLINK = 16;
    static final int AF_INET = 2;
    static final int SOCK_RAW = 3;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int NETLINK_ROUTE = 0;
    static final int SOL_NETLINK = 270;
    static final int NETLINK_CAP_ACK = 10;
    static final int NETLINK_EXT_ACK = 11;
    static final int MSG_PEEK = 2;
    static final int MSG_TRUNC = 0x20;

    static final int NLMSG_HDRLEN = 16;
    static final int NLMSG_ERROR = 2;
    static final int NLMSG_DONE = 3;
    static final int NLM_F_REQUEST = 0x01;
    static final int NLM_F_MULTI = 0x02;
    static final int NLM_F_ACK = 0x04;
    static final int NLM_F_DUMP_INTR = 0x10;
    static final int NLM_F_DUMP = 0x300;
    static final int NLM_F_EXCL = 0x200;
    static final int NLM_F_CREATE = 0x400;
    /** On an NLMSG_ERROR: the echoed request was cut to its header (NETLINK_CAP_ACK). */
    static final int NLM_F_CAPPED = 0x100;
    /** On an NLMSG_ERROR: extended-ack attributes follow (NETLINK_EXT_ACK). */
    static final int NLM_F_ACK_TLVS = 0x200;
    static final int NLMSGERR_ATTR_MSG = 1;

    static final int RTM_NEWROUTE = 24;
    static final int RTM_DELROUTE = 25;
    static final int RTM_GETROUTE = 26;
    static final int RTM_NEWRULE = 32;
    static final int RTM_DELRULE = 33;
    static final int RTM_GETRULE = 34;

    /** struct fib_rule_hdr and struct rtmsg are both 12 bytes: 8 single bytes and a u32 of flags. */
    static final int FAMILY_HDRLEN = 12;

    static final int FRA_PRIORITY = 6;
    static final int FRA_FWMARK = 10;
    static final int FRA_SUPPRESS_IFGROUP = 13;
    static final int FRA_SUPPRESS_PREFIXLEN = 14;
    static final int FRA_TABLE = 15;
    static final int FRA_FWMASK = 16;
    static final int FRA_PAD = 18;
    static final int FRA_PROTOCOL = 21;
    static final int FR_ACT_TO_TBL = 1;
    static final int FIB_RULE_INVERT = 0x2;

    static final int RTA_DST = 1;
    static final int RTA_OIF = 4;
    static final int RTA_TABLE = 15;
    static final int RTN_LOCAL = 2;
    static final int RT_SCOPE_HOST = 254;
    /** What {@code ip route add} stamps on a route it adds. */
    static final int RTPROT_BOOT = 3;
    /** The one-byte table field's value for "the table is in the TABLE attribute". */
    static final int RT_TABLE_UNSPEC = 0;

    private Netlink() {
    }

    static int align(int length) {
        return (length + 3) & ~3;
    }

    static String typeName(int type) {
        return switch (type) {
            case RTM_NEWROUTE -> "RTM_NEWROUTE";
            case RTM_DELROUTE -> "RTM_DELROUTE";
            case RTM_GETROUTE -> "RTM_GETROUTE";
            case RTM_NEWRULE -> "RTM_NEWRULE";
            case RTM_DELRULE -> "RTM_DELRULE";
            case RTM_GETRULE -> "RTM_GETRULE";
            default -> "netlink message type " + type;
        };
    }

    /**
     * The body of a request: a 12-byte family header ({@code fib_rule_hdr} or {@code rtmsg}, which
     * share a shape) followed by attributes. The socket puts the {@code nlmsghdr} in front.
     */
    static final class Body {
        private final ByteBuffer buf = ByteBuffer.allocate(128).order(ByteOrder.nativeOrder());

        /**
         * @param bytes the family header's eight single-byte fields, in declaration order; its
         *              trailing u32 of flags is zero
         */
        Body(int... bytes) {
            if (bytes.length != 8) {
                throw new IllegalArgumentException("a family header has 8 byte fields, got " + bytes.length);
            }
            for (int b : bytes) {
                buf.put((byte) b);
            }
            buf.putInt(0);
        }

        Body u32(int type, int value) {
            buf.putShort((short) 8).putShort((short) type).putInt(value);
            return this;
        }

        byte[] bytes() {
            byte[] out = new byte[buf.position()];
            buf.duplicate().flip().get(out);
            return out;
        }
    }

    /** One received message; {@code payload} starts after the nlmsghdr and holds exactly its data. */
    record Message(int type, int flags, int seq, ByteBuffer payload) {

        int u8(int offset) {
            return Byte.toUnsignedInt(payload.get(offset));
        }

        int u32(int offset) {
            return payload.getInt(offset);
        }

        /** The attributes after the family header, by type (the nested flag bit cleared). */
        Map<Integer, ByteBuffer> attributes() {
            return parseAttributes(payload, FAMILY_HDRLEN);
        }
    }

    /** Splits a run of {@code rtattr}/{@code nlattr} starting at {@code offset} into slices by type. */
    static Map<Integer, ByteBuffer> parseAttributes(ByteBuffer payload, int offset) {
        Map<Integer, ByteBuffer> out = new HashMap<>();
        int pos = offset;
        while (pos + 4 <= payload.limit()) {
            int len = Short.toUnsignedInt(payload.getShort(pos));
            int type = Short.toUnsignedInt(payload.getShort(pos + 2)) & 0x3fff;
            if (len < 4 || pos + len > payload.limit()) {
                throw new IllegalStateException("malformed netlink attribute at offset " + pos + ": length " + len
                        + " in a payload of " + payload.limit() + " bytes");
            }
            out.put(type, payload.slice(pos + 4, len - 4).order(ByteOrder.nativeOrder()));
            pos += align(len);
        }
        return out;
    }
}
