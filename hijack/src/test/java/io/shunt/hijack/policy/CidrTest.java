package io.shunt.hijack.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.InetAddress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CidrTest {

    @ParameterizedTest
    @CsvSource({
            "10.0.0.0/8, 10.0.0.0/8, 0x0a000000, 8",
            "1.2.3.4, 1.2.3.4/32, 0x01020304, 32",
            "' 192.168.0.0/16 ', 192.168.0.0/16, 0xc0a80000, 16",
            "0.0.0.0/0, 0.0.0.0/0, 0, 0",
            "255.255.255.255/32, 255.255.255.255/32, 0xffffffff, 32",
            "0.0.0.0, 0.0.0.0/32, 0, 32",
    })
    void parsesToCanonicalForm(String input, String canonical, String network, int prefix) {
        Cidr cidr = Cidr.parse(input);
        assertEquals(canonical, cidr.toString());
        assertEquals(Long.decode(network).intValue(), cidr.network());
        assertEquals(prefix, cidr.prefixLength());
        assertEquals(cidr, Cidr.parse(cidr.toString()));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "10.0.0.1/8          | 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?",
            "192.168.1.1/16      | 192.168.1.1/16 has host bits set; did you mean 192.168.0.0/16?",
            "10.0.0.0/33         | invalid CIDR '10.0.0.0/33': prefix length 33 is out of range 0..32",
            "10.0.0.0/-1         | invalid CIDR '10.0.0.0/-1': prefix length '-1' is not a number 0..32",
            "10.0.0.0/           | invalid CIDR '10.0.0.0/': prefix length '' is not a number 0..32",
            "10.0.0/8            | invalid CIDR '10.0.0/8': '10.0.0' is not an IPv4 address",
            "10.0.0.256          | invalid CIDR '10.0.0.256': octet 256 is out of range 0..255",
            "10.0.0.010          | invalid CIDR '10.0.0.010': octet '010' has a leading zero",
            "example.com         | invalid CIDR 'example.com': 'example.com' is not an IPv4 address",
            "''                  | invalid CIDR '': '' is not an IPv4 address",
            "1.2.3.4.5           | invalid CIDR '1.2.3.4.5': '1.2.3.4.5' is not an IPv4 address",
            "fd00::/8            | IPv6 CIDR 'fd00::/8': Shunt captures IPv4 only for now",
            "::ffff:10.0.0.0/104 | IPv6 CIDR '::ffff:10.0.0.0/104': Shunt captures IPv4 only for now",
    })
    void rejectsWithAMessageNamingTheInputAndTheProblem(String input, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cidr.parse(input));
        assertTrue(e.getMessage().startsWith(expected), e.getMessage());
    }

    @Test
    void constructorEnforcesTheSameInvariants() {
        assertThrows(IllegalArgumentException.class, () -> new Cidr(0x0a000001, 8));
        assertThrows(IllegalArgumentException.class, () -> new Cidr(0, 33));
        assertThrows(IllegalArgumentException.class, () -> new Cidr(0, -1));
        assertThrows(IllegalArgumentException.class, () -> Cidr.parse(null));
    }

    @Test
    void containsMatchesOnlyAddressesInsideTheNetwork() throws Exception {
        Cidr tenEight = Cidr.parse("10.0.0.0/8");
        assertTrue(tenEight.contains(InetAddress.getByName("10.0.0.0")));
        assertTrue(tenEight.contains(InetAddress.getByName("10.255.255.255")));
        assertFalse(tenEight.contains(InetAddress.getByName("11.0.0.0")));
        assertFalse(tenEight.contains(InetAddress.getByName("9.255.255.255")));
        assertTrue(Cidr.parse("0.0.0.0/0").contains(InetAddress.getByName("203.0.113.9")));
        assertTrue(Cidr.parse("1.2.3.4").contains(InetAddress.getByName("1.2.3.4")));
        assertFalse(Cidr.parse("1.2.3.4").contains(InetAddress.getByName("1.2.3.5")));
        // high bit set: signed int arithmetic must not break the comparison
        assertTrue(Cidr.parse("192.168.0.0/16").contains(InetAddress.getByName("192.168.200.1")));
        assertFalse(Cidr.parse("0.0.0.0/0").contains(InetAddress.getByName("::1")));
    }
}
