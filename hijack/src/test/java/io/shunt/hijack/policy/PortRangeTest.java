package io.shunt.hijack.policy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PortRangeTest {

    @ParameterizedTest
    @CsvSource({
            "80, 80, 80, 80",
            "8000-8100, 8000, 8100, 8000-8100",
            "' 22 ', 22, 22, 22",
            "1-65535, 1, 65535, 1-65535",
            "443-443, 443, 443, 443",
    })
    void parses(String input, int lo, int hi, String canonical) {
        PortRange range = PortRange.parse(input);
        assertEquals(new PortRange(lo, hi), range);
        assertEquals(canonical, range.toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "0           | invalid port range '0': port 0 is out of range 1..65535",
            "65536       | invalid port range '65536': port 65536 is out of range 1..65535",
            "99999999999 | invalid port range '99999999999': port is out of range 1..65535",
            "0-80        | invalid port range '0-80': port 0 is out of range 1..65535",
            "8100-8000   | port range 8100-8000 starts above its end; did you mean 8000-8100?",
            "http        | invalid port range 'http': expected a port (80) or a range (8000-8100)",
            "''          | invalid port range '': expected a port",
            "80-         | invalid port range '80-': expected a port",
            "-80         | invalid port range '-80': expected a port",
            "1-2-3       | invalid port range '1-2-3': expected a port",
            "+80         | invalid port range '+80': expected a port",
            "8 0         | invalid port range '8 0': expected a port",
    })
    void rejectsWithAMessageNamingTheInput(String input, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PortRange.parse(input));
        assertTrue(e.getMessage().startsWith(expected), e.getMessage());
    }

    @Test
    void containsIsInclusiveAtBothEnds() {
        PortRange range = PortRange.parse("8000-8100");
        assertTrue(range.contains(8000));
        assertTrue(range.contains(8100));
        assertFalse(range.contains(7999));
        assertFalse(range.contains(8101));
        assertTrue(PortRange.of(80).contains(80));
        assertFalse(PortRange.of(80).contains(81));
    }

    @Test
    void constructorEnforcesTheSameInvariants() {
        assertThrows(IllegalArgumentException.class, () -> new PortRange(0, 10));
        assertThrows(IllegalArgumentException.class, () -> new PortRange(10, 70000));
        assertThrows(IllegalArgumentException.class, () -> new PortRange(10, 9));
        assertThrows(IllegalArgumentException.class, () -> PortRange.parse(null));
    }
}
