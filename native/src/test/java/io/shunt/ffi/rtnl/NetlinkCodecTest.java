package io.shunt.ffi.rtnl;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The encoding and decoding of netlink messages, on byte layouts written out by hand. */
class NetlinkCodecTest {

    @Test
    void bodyIsTheFamilyHeaderThenAlignedAttributes() {
        byte[] body = new Netlink.Body(2, 0, 0, 0, 0, 0, 0, 1).u32(Netlink.FRA_FWMARK, 0x5349).bytes();
        ByteBuffer b = ByteBuffer.wrap(body).order(ByteOrder.nativeOrder());
        assertEquals(12 + 8, body.length);
        assertEquals(2, b.get(0));
        assertEquals(1, b.get(7));
        assertEquals(0, b.getInt(8));
        assertEquals(8, b.getShort(12));
        assertEquals(Netlink.FRA_FWMARK, b.getShort(14));
        assertEquals(0x5349, b.getInt(16));
    }

    @Test
    void splitsADatagramIntoMessagesAndReadsTheExtendedAck() {
        byte[] text = "FIB table does not exist.\0".getBytes(StandardCharsets.UTF_8);
        int attrLen = 4 + text.length;
        int errorLen = 16 + 4 + 16 + Netlink.align(attrLen);
        ByteBuffer d = ByteBuffer.allocate(errorLen + 20).order(ByteOrder.nativeOrder());
        // NLMSG_ERROR, capped, with TLVs: errno, the request's header, one attribute
        d.putInt(errorLen).putShort((short) Netlink.NLMSG_ERROR)
                .putShort((short) (Netlink.NLM_F_CAPPED | Netlink.NLM_F_ACK_TLVS)).putInt(7).putInt(0);
        d.putInt(-3);
        d.putInt(44).putShort((short) Netlink.RTM_DELROUTE).putShort((short) 5).putInt(7).putInt(0);
        d.putShort((short) attrLen).putShort((short) Netlink.NLMSGERR_ATTR_MSG).put(text);
        d.position(errorLen);
        // then NLMSG_DONE with error 0
        d.putInt(20).putShort((short) Netlink.NLMSG_DONE).putShort((short) Netlink.NLM_F_MULTI).putInt(8).putInt(0)
                .putInt(0);
        d.flip();

        List<Netlink.Message> messages = NetlinkSocket.split(d, "test");
        assertEquals(2, messages.size());
        assertEquals(Netlink.NLMSG_ERROR, messages.get(0).type());
        assertEquals(-3, messages.get(0).u32(0));
        assertEquals("FIB table does not exist.", NetlinkSocket.extAck(messages.get(0)));
        assertEquals(Netlink.NLMSG_DONE, messages.get(1).type());
        assertEquals(8, messages.get(1).seq());
    }

    @Test
    void refusesMalformedLengthsInsteadOfReadingPastThem() {
        ByteBuffer d = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        d.putInt(64).putShort((short) Netlink.NLMSG_DONE).putShort((short) 0).putInt(1).putInt(0).flip();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> NetlinkSocket.split(d, "RTM_X"));
        assertTrue(e.getMessage().contains("malformed netlink answer to RTM_X"), e.getMessage());

        ByteBuffer attrs = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
        attrs.putShort((short) 12).putShort((short) 1).putInt(0).flip();
        assertThrows(IllegalStateException.class, () -> Netlink.parseAttributes(attrs, 0));
    }
}
