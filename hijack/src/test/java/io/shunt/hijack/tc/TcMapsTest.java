package io.shunt.hijack.tc;

import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import io.shunt.hijack.policy.SocketOwner;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The policy → map contents rendering of the tc technique, byte for byte as shunt_tc.bpf.c reads it. */
class TcMapsTest {
    private static final CapturePolicy POLICY = CapturePolicy.defaults()
            .withExcludeOutboundCidrs(List.of(Cidr.parse("10.96.0.0/12"), Cidr.parse("192.0.2.7")))
            .withExcludeOutboundPorts(List.of(PortRange.of(9090), PortRange.parse("8000-8080")))
            .withExcludeInboundPorts(List.of(PortRange.of(22)))
            .withExcludeOutboundOwners(List.of(SocketOwner.uid(4242), SocketOwner.uid(4242)));

    @Test
    void theConfigStructHasTheCLayout() {
        TcMaps.Contents c = TcMaps.contents(POLICY, TcHijacker.DEFAULT_ROUTING);
        byte[] cfg = TcMaps.config(1, c, 0);
        assertEquals(TcMaps.CONFIG_SIZE, cfg.length);
        ByteBuffer b = ByteBuffer.wrap(cfg).order(ByteOrder.nativeOrder());
        assertEquals(1, b.getInt(), "lo_ifindex");
        assertEquals(0x5348, b.getInt(), "bypass_mark");
        assertEquals(0x534a, b.getInt(), "divert_mark");
        assertEquals(15001, b.getShort(), "out_port");
        assertEquals(15006, b.getShort(), "in_port");
        assertEquals(TcMaps.FLAG_CAPTURE_INBOUND, b.getInt(), "flags: no include list, inbound captured");
        assertEquals(0, b.getInt(), "lo_accept_local_before");
        assertEquals(new TcMaps.Config(1, 0x5348, 0x534a, 15001, 15006, TcMaps.FLAG_CAPTURE_INBOUND, 0),
                TcMaps.Config.parse(cfg));
    }

    @Test
    void lpmKeysHaveAHostOrderPrefixAndANetworkOrderAddress() {
        byte[] key = TcMaps.lpmKey(Cidr.parse("10.96.0.0/12"));
        ByteBuffer b = ByteBuffer.wrap(key).order(ByteOrder.nativeOrder());
        assertEquals(12, b.getInt());
        assertArrayEquals(new byte[]{10, 96, 0, 0}, java.util.Arrays.copyOfRange(key, 4, 8));
        assertEquals(Cidr.parse("10.96.0.0/12"), TcMaps.cidrOf(key));
    }

    @Test
    void portRangesBecomeBitmapsAndReadBackAsRanges() {
        TcMaps.Contents c = TcMaps.contents(POLICY, TcHijacker.DEFAULT_ROUTING);
        assertEquals(List.of("8000-8080", "9090"), TcMaps.ranges(c.excludedOutPorts()));
        assertEquals(List.of("22"), TcMaps.ranges(c.excludedInPorts()));
        assertEquals(1L << (9090 & 63), c.excludedOutPorts()[9090 >>> 6] & (1L << (9090 & 63)));
        assertEquals(List.of("1-65535"), TcMaps.ranges(TcMaps.portBitmap(List.of(PortRange.parse("1-65535")))));
        assertEquals(List.of(), TcMaps.ranges(new long[TcMaps.PORT_WORDS]));
    }

    @Test
    void describeShowsEveryMapOnce() {
        List<String> lines = TcMaps.contents(POLICY, TcHijacker.DEFAULT_ROUTING).describe();
        assertEquals(List.of(
                "shunt_tc_cfg: bypass mark 0x5348, divert mark 0x534a, outbound listener port 15001, inbound listener "
                        + "port 15006, include list off, capture inbound on",
                "shunt_incl4: (not used: every destination is captured)",
                "shunt_excl4: 10.96.0.0/12, 192.0.2.7/32",
                "shunt_excl_out_ports: 8000-8080, 9090",
                "shunt_excl_in_ports: 22",
                "shunt_excl_uid: 4242"), lines);
    }

    @Test
    void anIncludeListSetsItsFlag() {
        TcMaps.Contents c = TcMaps.contents(CapturePolicy.defaults().withIncludeOutboundCidrs(
                List.of(Cidr.parse("10.0.0.0/8"))).withCaptureInbound(false), TcHijacker.DEFAULT_ROUTING);
        assertEquals(TcMaps.FLAG_INCLUDE_LIST, c.flags());
        assertEquals("shunt_incl4: 10.0.0.0/8", c.describe().get(1));
    }

    @Test
    void aGroupOwnerExclusionIsRefusedWithTheReason() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TcMaps.contents(
                CapturePolicy.defaults().withExcludeOutboundOwners(List.of(new SocketOwner(SocketOwner.Kind.GID, 7))),
                TcHijacker.DEFAULT_ROUTING));
        assertTrue(e.getMessage().contains("gid 7") && e.getMessage().contains("bpf_get_socket_uid"), e.getMessage());
    }

    @Test
    void aBypassMarkEqualToTheDivertMarkIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TcMaps.contents(
                CapturePolicy.defaults().withBypassMark(0x534a), TcHijacker.DEFAULT_ROUTING));
        assertTrue(e.getMessage().contains("0x534a"), e.getMessage());
    }

    @Test
    void thePlanListsTheStepsInInstallOrder() {
        String plan = new TcHijacker().tcPlan(POLICY).toString();
        assertTrue(plan.contains("ip rule add fwmark 0x534a"), plan);
        assertTrue(plan.indexOf("map shunt_excl4") < plan.indexOf("tc filter add"), plan);
        assertTrue(plan.indexOf("tc filter add") < plan.indexOf("bpf link"), plan);
    }
}
