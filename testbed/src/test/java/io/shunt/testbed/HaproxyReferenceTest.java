package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The reference proxy's configuration and rules as text, and reading its counters and version. */
class HaproxyReferenceTest {

    @Test
    void theConfigIsATcpProxyToTheOriginalDestinationWithoutLogging() {
        String config = HaproxyReference.config(15001, 2, 4096, "haproxy");
        List<String> lines = config.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        assertEquals(List.of(
                "global", "nbthread 2", "maxconn 4096", "user haproxy", "group haproxy",
                "defaults", "mode tcp", "timeout connect 5s", "timeout client 60s", "timeout server 60s",
                "frontend intercepted", "bind 0.0.0.0:15001", "default_backend original_destination",
                "backend original_destination", "server original 0.0.0.0"), lines);
        assertFalse(config.contains("log "), "nothing is logged");
    }

    @Test
    void theRulesAreShuntsRedirectWithHaproxysUserInPlaceOfTheMark() {
        assertEquals("""
                table inet shunt_bench_haproxy {
                \tchain output_redirect {
                \t\ttype nat hook output priority -100; policy accept;
                \t\tmeta nfproto != ipv4 return
                \t\tmeta l4proto != tcp return
                \t\tmeta skuid 103 counter return
                \t\tfib daddr type local return
                \t\tmeta l4proto tcp counter redirect to :15001
                \t}
                }
                """, HaproxyReference.nftScript(15001, 103));
    }

    @Test
    void countersAreReadFromNftsListing() {
        // As `nft list chain inet shunt_bench_haproxy output_redirect` prints it (nftables 1.0.6).
        String listing = """
                table inet shunt_bench_haproxy {
                \tchain output_redirect {
                \t\ttype nat hook output priority -100; policy accept;
                \t\tmeta nfproto != ipv4 return
                \t\tmeta l4proto != tcp return
                \t\tmeta skuid 103 counter packets 36353 bytes 2181180 return
                \t\tfib daddr type local return
                \t\tmeta l4proto tcp counter packets 36355 bytes 2181300 redirect to :15001
                \t}
                }
                """;
        assertEquals(new HaproxyReference.Counters(36355, 36353), HaproxyReference.parseCounters(listing));
        assertThrows(IllegalArgumentException.class, () -> HaproxyReference.parseCounters("table inet x {\n}\n"));
    }

    @Test
    void theVersionIsReadFromHaproxyV() {
        assertEquals("2.6.12-1+deb12u4", HaproxyReference.parseVersion("""
                HAProxy version 2.6.12-1+deb12u4 2026/10/17 - https://haproxy.org/
                Status: long-term supported branch - will stop receiving fixes around Q2 2027.
                """));
        assertThrows(IllegalArgumentException.class, () -> HaproxyReference.parseVersion("haproxy: not found"));
    }

    /** Where HAProxy is installed, the installed version must accept the configuration (haproxy -c only parses it). */
    @Test
    void theInstalledHaproxyAcceptsTheConfig() throws IOException {
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/haproxy")), "haproxy is not installed");
        Path dir = Files.createTempDirectory("shunt-haproxy-config-test");
        try {
            // The current user, so the check needs no haproxy user and no root.
            Path config = Files.writeString(dir.resolve("haproxy.cfg"),
                    HaproxyReference.config(15001, 2, 1024, System.getProperty("user.name")).replace(
                            "group " + System.getProperty("user.name"), ""));
            String out = Command.run(List.of("/usr/sbin/haproxy", "-c", "-f", config.toString()),
                    Command.DEFAULT_TIMEOUT, "haproxy -c checks the configuration only");
            assertTrue(out.contains("Configuration file is valid"), out);
        } finally {
            Files.walk(dir).sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
