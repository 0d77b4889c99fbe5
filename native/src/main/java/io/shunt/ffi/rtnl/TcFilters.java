package io.shunt.ffi.rtnl;

import io.shunt.ffi.libc.NativeCallException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Lists the tc filters on one hook of a clsact qdisc (RTM_GETTFILTER dump), in the network
 * namespace of the calling thread: what {@code tc filter show dev DEV ingress} prints. libbpf can
 * only query a filter whose priority and handle it is told; this sees all of them, so the BPF
 * loader can tell whether a clsact qdisc it created is empty again before removing it.
 */
public final class TcFilters {
    /** TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS): the clsact qdisc's ingress hook. */
    public static final int CLSACT_INGRESS = 0xFFFFFFF2;
    /** TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS). */
    public static final int CLSACT_EGRESS = 0xFFFFFFF3;

    static final int RTM_GETTFILTER = 46;
    /** sizeof(struct tcmsg): family, 3 bytes of padding, ifindex, handle, parent, info. */
    static final int TCMSG_LEN = 20;
    static final int TCA_KIND = 1;

    /**
     * One filter as the kernel dumps it. Every priority also has an entry with handle 0: the
     * classifier instance itself, which {@code tc} prints as {@code filter ... pref N bpf chain 0}.
     *
     * @param kind the classifier, e.g. {@code bpf}
     */
    public record TcFilter(int priority, int protocol, int handle, String kind) {
    }

    private TcFilters() {
    }

    /**
     * The filters on {@code parent} ({@link #CLSACT_INGRESS} or {@link #CLSACT_EGRESS}) of the
     * interface {@code ifindex}; empty when the interface has no clsact qdisc.
     */
    public static List<TcFilter> list(int ifindex, int parent) throws NativeCallException {
        ByteBuffer body = ByteBuffer.allocate(TCMSG_LEN).order(ByteOrder.nativeOrder());
        body.put((byte) 0).put((byte) 0).putShort((short) 0); // AF_UNSPEC, padding
        body.putInt(ifindex).putInt(0).putInt(parent).putInt(0);
        String what = "RTM_GETTFILTER dump (ifindex " + ifindex + ", parent " + Integer.toHexString(parent >>> 16)
                + ":" + Integer.toHexString(parent & 0xFFFF) + ")";
        List<TcFilter> out = new ArrayList<>();
        try (NetlinkSocket socket = NetlinkSocket.open()) {
            for (Netlink.Message m : socket.dump(RTM_GETTFILTER, body.array(), what)) {
                int handle = m.u32(8);
                int info = m.u32(16);
                Map<Integer, ByteBuffer> attributes = Netlink.parseAttributes(m.payload(), TCMSG_LEN);
                ByteBuffer kind = attributes.get(TCA_KIND);
                // the low half is the protocol in network byte order, e.g. ETH_P_ALL = 0x0003
                short protocol = (short) info;
                if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
                    protocol = Short.reverseBytes(protocol);
                }
                out.add(new TcFilter(info >>> 16, Short.toUnsignedInt(protocol), handle,
                        kind == null ? "" : cString(kind)));
            }
        }
        return out;
    }

    private static String cString(ByteBuffer attribute) {
        byte[] bytes = new byte[attribute.remaining()];
        attribute.duplicate().get(bytes);
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.US_ASCII);
    }
}
