package io.shunt.agent.admin;

import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

class KernelRuleFinderTest {
    /** As `nft -a list table inet shunt` prints a tproxy install, handles included. */
    private static final String TPROXY = """
            table inet shunt { # handle 7
            	chain shunt_outbound_mark { # handle 1
            		type route hook output priority -150; policy accept;
            		meta nfproto != ipv4 return # handle 2
            		meta l4proto != tcp return # handle 3
            		socket transparent 1 return # handle 4
            		ct direction reply return # handle 5
            		meta mark 0x00005348 return # handle 6
            		fib daddr type local return # handle 7
            		ip daddr != { 10.0.0.0/8 } return # handle 8
            		ip daddr { 10.96.0.1, 10.1.0.0/16 } return # handle 9
            		tcp dport { 22, 8000-8100 } return # handle 10
            		meta mark set 0x00005349 # handle 11
            	}

            	chain shunt_prerouting_tproxy { # handle 12
            		type filter hook prerouting priority -150; policy accept;
            		tcp dport { 9090 } return # handle 13
            		meta l4proto tcp meta mark set 0x00005349 tproxy ip to :15006 accept # handle 14
            	}
            }
            """;
    private static final CapturePolicy POLICY = CapturePolicy.defaults()
            .withIncludeOutboundCidrs(List.of(Cidr.parse("10.0.0.0/8")))
            .withExcludeOutboundCidrs(List.of(Cidr.parse("10.96.0.1/32"), Cidr.parse("10.1.0.0/16")))
            .withExcludeOutboundPorts(List.of(PortRange.parse("22"), PortRange.parse("8000-8100")));

    @Test
    void findsTheOutboundRuleForEachDecision() throws Exception {
        assertEquals(Optional.of("meta mark set 0x00005349"), rule("10.2.3.4", 443));
        assertEquals(Optional.of("ip daddr { 10.96.0.1, 10.1.0.0/16 } return"), rule("10.96.0.1", 443));
        assertEquals(Optional.of("tcp dport { 22, 8000-8100 } return"), rule("10.2.3.4", 8080));
        assertEquals(Optional.of("ip daddr != { 10.0.0.0/8 } return"), rule("192.168.1.1", 443));
        assertEquals(Optional.of("fib daddr type local return"), rule("127.0.0.1", 443));
    }

    @Test
    void findsNothingWithoutAnOutboundChain() throws Exception {
        var decision = POLICY.decideOutbound(InetAddress.ofLiteral("10.2.3.4"), 443);
        assertEquals(Optional.empty(), KernelRuleFinder.ruleFor(decision, "table inet shunt {\n}\n"));
    }

    private static Optional<String> rule(String ip, int port) {
        return KernelRuleFinder.ruleFor(POLICY.decideOutbound(InetAddress.ofLiteral(ip), port), TPROXY);
    }
}
