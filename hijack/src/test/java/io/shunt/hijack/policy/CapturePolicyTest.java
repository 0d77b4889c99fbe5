package io.shunt.hijack.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CapturePolicyTest {

    private static final CapturePolicy MESH = CapturePolicy.defaults()
            .withIncludeOutboundCidrs(List.of(Cidr.parse("10.0.0.0/8"), Cidr.parse("192.168.0.0/16")))
            .withExcludeOutboundCidrs(List.of(Cidr.parse("10.96.0.1"), Cidr.parse("10.1.0.0/16")))
            .withExcludeOutboundPorts(List.of(PortRange.parse("22"), PortRange.parse("8000-8100")));

    @Test
    void defaultsAreTheDocumentedOnes() {
        CapturePolicy p = CapturePolicy.defaults();
        assertEquals(15001, p.outboundPort());
        assertEquals(15006, p.inboundPort());
        assertEquals(0x5348, p.bypassMark());
        assertTrue(p.includeOutboundCidrs().isEmpty());
        assertTrue(p.excludeOutboundCidrs().isEmpty());
        assertTrue(p.excludeOutboundPorts().isEmpty());
        assertTrue(p.excludeInboundPorts().isEmpty());
        assertTrue(p.captureInbound());
    }

    @Test
    void withMethodsChangeOneFieldOnly() {
        CapturePolicy p = CapturePolicy.defaults().withOutboundPort(16001).withCaptureInbound(false);
        assertEquals(new CapturePolicy(16001, 15006, 0x5348, List.of(), List.of(), List.of(), List.of(), false, List.of()), p);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "outbound0     | outboundPort 0 is out of range 1..65535",
            "inbound70000  | inboundPort 70000 is out of range 1..65535",
            "samePorts     | outboundPort and inboundPort are both 15001",
            "mark0         | bypassMark must not be 0",
            "nullList      | excludeOutboundCidrs must not be null",
            "nullElement   | excludeOutboundPorts[1] is null",
    })
    void rejectsBadFieldsByName(String caseName, String expected) {
        List<PortRange> withNull = new ArrayList<>(Arrays.asList(PortRange.of(22), null));
        CapturePolicy d = CapturePolicy.defaults();
        Supplier<CapturePolicy> build = switch (caseName) {
            case "outbound0" -> () -> d.withOutboundPort(0);
            case "inbound70000" -> () -> d.withInboundPort(70000);
            case "samePorts" -> () -> d.withInboundPort(15001);
            case "mark0" -> () -> d.withBypassMark(0);
            case "nullList" -> () -> d.withExcludeOutboundCidrs(null);
            case "nullElement" -> () -> d.withExcludeOutboundPorts(withNull);
            default -> throw new AssertionError(caseName);
        };
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build::get);
        assertTrue(e.getMessage().startsWith(expected), e.getMessage());
    }

    @Test
    void listsAreCopiedAndImmutable() {
        List<Cidr> mutable = new ArrayList<>(List.of(Cidr.parse("10.0.0.0/8")));
        CapturePolicy p = CapturePolicy.defaults().withExcludeOutboundCidrs(mutable);
        mutable.clear();
        assertEquals(List.of(Cidr.parse("10.0.0.0/8")), p.excludeOutboundCidrs());
        assertThrows(UnsupportedOperationException.class, () -> p.excludeOutboundCidrs().add(Cidr.parse("1.2.3.4")));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', nullValues = "-", value = {
            // destination | port | captured | reason            | matched
            "10.2.3.4      | 80   | true     | CAPTURED          | 15001",
            "192.168.9.9   | 443  | true     | CAPTURED          | 15001",
            "8.8.8.8       | 53   | false    | NOT_INCLUDED      | -",
            "10.96.0.1     | 443  | false    | EXCLUDED_CIDR     | 10.96.0.1/32",
            "10.1.200.1    | 80   | false    | EXCLUDED_CIDR     | 10.1.0.0/16",
            "10.2.3.4      | 22   | false    | EXCLUDED_PORT     | 22",
            "10.2.3.4      | 8050 | false    | EXCLUDED_PORT     | 8000-8100",
            "10.2.3.4      | 8101 | true     | CAPTURED          | 15001",
            "127.0.0.1     | 80   | false    | LOCAL_DESTINATION | -",
            "127.9.9.9     | 80   | false    | LOCAL_DESTINATION | -",
            "0.0.0.0       | 80   | false    | LOCAL_DESTINATION | -",
            "fd00::1       | 80   | false    | NOT_IPV4          | -",
            // the first matching rule decides: an excluded CIDR wins over an excluded port
            "10.96.0.1     | 22   | false    | EXCLUDED_CIDR     | 10.96.0.1/32",
            // and a destination outside the includes is reported as such even if its port is excluded
            "8.8.8.8       | 22   | false    | NOT_INCLUDED      | -",
    })
    void decideOutboundFollowsTheRuleOrder(String destination, int port, boolean captured,
                                           Decision.Reason reason, String matched) throws Exception {
        Decision d = MESH.decideOutbound(InetAddress.getByName(destination), port);
        assertEquals(captured, d.captured(), d.explain());
        assertEquals(reason, d.reason(), d.explain());
        assertEquals(Optional.ofNullable(matched), d.matched(), d.explain());
    }

    @Test
    void emptyIncludesCaptureEveryNonLocalDestination() throws Exception {
        Decision d = CapturePolicy.defaults().decideOutbound(InetAddress.getByName("203.0.113.7"), 443);
        assertTrue(d.captured(), d.explain());
        assertEquals("203.0.113.7:443 captured: redirected to the outbound listener on port 15001", d.explain());
    }

    @Test
    void thePodsOwnAddressesAreLocal() throws Exception {
        InetAddress pod = InetAddress.getByName("10.2.3.4");
        Decision d = MESH.decideOutbound(pod, 80, Set.of(pod));
        assertFalse(d.captured());
        assertEquals(Decision.Reason.LOCAL_DESTINATION, d.reason());
    }

    @Test
    void explainNamesTheMatchingEntry() throws Exception {
        assertEquals("10.1.200.1:80 bypassed: the destination is in excludeOutboundCidrs entry 10.1.0.0/16",
                MESH.decideOutbound(InetAddress.getByName("10.1.200.1"), 80).explain());
        assertEquals("[fd00:0:0:0:0:0:0:1]:80 bypassed: only IPv4 is captured for now",
                MESH.decideOutbound(InetAddress.getByName("fd00::1"), 80).explain());
    }

    @Test
    void decideOutboundRejectsImpossiblePorts() throws Exception {
        InetAddress a = InetAddress.getByName("10.2.3.4");
        assertThrows(IllegalArgumentException.class, () -> MESH.decideOutbound(a, 0));
        assertThrows(IllegalArgumentException.class, () -> MESH.decideOutbound(a, 65536));
    }
}
