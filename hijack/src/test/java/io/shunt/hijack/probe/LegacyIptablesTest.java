package io.shunt.hijack.probe;

import io.shunt.ffi.ScratchNetNs;
import io.shunt.ffi.netns.NetNs;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class LegacyIptablesTest {

    @Test
    void aFreshNamespaceHasNoLegacyTables() throws Exception {
        try (NetNs fresh = NetNs.createScratch()) {
            assertEquals(List.of(), LegacyIptables.tablesIn(fresh));
            assertEquals(List.of(), LegacyIptables.ip6TablesIn(fresh));
        }
    }

    /** iptables-legacy registers a table in a namespace the first time it is used there. */
    @Test
    void seesTheTablesIptablesLegacyUsedInThatNamespaceOnly() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/iptables-legacy")), "iptables-legacy is not installed");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/ip6tables-legacy")), "ip6tables-legacy is not installed");
        try (NetNs home = NetNs.current(); ScratchNetNs legacy = new ScratchNetNs("legacy")) {
            List<String> homeBefore = LegacyIptables.tablesIn(home);
            ProbeHost.run("ip", "netns", "exec", legacy.name, "/usr/sbin/iptables-legacy", "-w", "-t", "nat", "-n", "-L");
            ProbeHost.run("ip", "netns", "exec", legacy.name, "/usr/sbin/iptables-legacy", "-w", "-t", "filter", "-n", "-L");
            ProbeHost.run("ip", "netns", "exec", legacy.name, "/usr/sbin/ip6tables-legacy", "-w", "-t", "mangle", "-n", "-L");
            assertEquals(List.of("filter", "nat"), LegacyIptables.tablesIn(legacy.netns));
            assertEquals(List.of("mangle"), LegacyIptables.ip6TablesIn(legacy.netns));
            assertEquals(homeBefore, LegacyIptables.tablesIn(home));
        }
    }
}
