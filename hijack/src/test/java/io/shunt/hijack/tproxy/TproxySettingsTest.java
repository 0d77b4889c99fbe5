package io.shunt.hijack.tproxy;

import io.shunt.ffi.rtnl.FwmarkRule;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TproxySettingsTest {

    @Test
    void defaultsAreTheDocumentedNumbers() {
        TproxySettings d = TproxySettings.defaults();
        assertEquals(new TproxySettings(0x5349, 21321, 100), d);
        assertEquals(FwmarkRule.of(0x5349, 21321, 100), d.rule());
    }

    @Test
    void refusesMarkZero() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TproxySettings(0, 21321, 100));
        assertTrue(e.getMessage().startsWith("tproxy mark must not be 0"), e.getMessage());
    }

    @Test
    void refusesReservedAndNonPositiveTables() {
        for (int table : new int[] {252, 253, 254, 255}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new TproxySettings(0x5349, table, 100));
            assertTrue(e.getMessage().contains("tproxy table " + table + " is reserved by the kernel"), e.getMessage());
        }
        for (int table : new int[] {0, -1}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new TproxySettings(0x5349, table, 100));
            assertTrue(e.getMessage().contains("out of range"), e.getMessage());
        }
        assertEquals(251, new TproxySettings(0x5349, 251, 100).table());
        assertEquals(256, new TproxySettings(0x5349, 256, 100).table());
    }

    @Test
    void refusesPrioritiesThatDoNotRunBeforeTheMainTable() {
        for (int priority : new int[] {0, -3, 32766, 40000}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new TproxySettings(0x5349, 21321, priority));
            assertTrue(e.getMessage().startsWith("tproxy rule priority " + priority + " is out of range 1..32765"),
                    e.getMessage());
        }
        assertEquals(32765, new TproxySettings(0x5349, 21321, 32765).rulePriority());
        assertEquals(1, new TproxySettings(0x5349, 21321, 1).rulePriority());
    }
}
