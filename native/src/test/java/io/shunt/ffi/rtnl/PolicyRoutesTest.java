package io.shunt.ffi.rtnl;

import io.shunt.ffi.ScratchNetNs;
import io.shunt.ffi.libc.NativeCallException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Policy routing over rtnetlink in namespaces this test creates, checked against what {@code ip}
 * reads back (and {@code ip}'s own writes read back through the API). The root namespace is only
 * ever read, to prove the class left its rules and routes alone.
 */
class PolicyRoutesTest {
    private static final int MARK = 0x5349;
    private static final int TABLE = 21321;
    private static final int PRIORITY = 100;

    private static String rootRulesBefore;
    private static String rootRoutesBefore;

    @BeforeAll
    static void snapshotRoot() throws Exception {
        rootRulesBefore = ip("rule");
        rootRoutesBefore = ip("route", "show", "table", "all");
    }

    @AfterAll
    static void rootIsUnchanged() throws Exception {
        assertEquals(rootRulesBefore, ip("rule"), "the root netns rules changed during the test");
        assertEquals(rootRoutesBefore, ip("route", "show", "table", "all"), "the root netns routes changed");
    }

    /** Runs {@code ip ARGS} and returns its output; fails the test when ip fails. */
    static String ip(String... args) throws IOException, InterruptedException {
        List<String> cmd = Stream.concat(Stream.of("ip"), Stream.of(args)).toList();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
        return out;
    }

    @Test
    void addsListsAndDeletesAFwmarkRuleAsIpSeesIt() throws Exception {
        try (ScratchNetNs ns = new ScratchNetNs("rtnl-rule")) {
            String before = ip("-n", ns.name, "rule");
            assertEquals(List.of(), ns.netns.run(PolicyRoutes::fwmarkRules), "a fresh namespace has no fwmark rules");

            ns.netns.run(() -> {
                PolicyRoutes.addFwmarkRule(MARK, TABLE, PRIORITY);
                return null;
            });
            assertEquals(List.of(FwmarkRule.of(MARK, TABLE, PRIORITY)), ns.netns.run(PolicyRoutes::fwmarkRules));
            String after = ip("-n", ns.name, "rule");
            assertTrue(after.contains("100:\tfrom all fwmark 0x5349 lookup 21321\n"), after);
            assertEquals(before.lines().count() + 1, after.lines().count(), after);

            ns.netns.run(() -> {
                PolicyRoutes.deleteFwmarkRule(MARK, TABLE, PRIORITY);
                return null;
            });
            assertEquals(List.of(), ns.netns.run(PolicyRoutes::fwmarkRules));
            assertEquals(before, ip("-n", ns.name, "rule"));
        }
    }

    @Test
    void addingARuleTwiceFailsWithEexistNamingTheRule() throws Exception {
        try (ScratchNetNs ns = new ScratchNetNs("rtnl-rule-twice")) {
            ns.netns.run(() -> {
                PolicyRoutes.addFwmarkRule(MARK, TABLE, PRIORITY);
                return null;
            });
            RtnetlinkException e = assertThrows(RtnetlinkException.class, () -> ns.netns.run(() -> {
                PolicyRoutes.addFwmarkRule(MARK, TABLE, PRIORITY);
                return null;
            }));
            assertEquals("RTM_NEWRULE fwmark 0x5349 table 21321 priority 100 failed: EEXIST (File exists)",
                    e.getMessage());
            assertEquals("EEXIST", e.errnoName());
            assertEquals(1, ip("-n", ns.name, "rule").lines().filter(l -> l.contains("fwmark 0x5349")).count());
        }
    }

    @Test
    void deletingAMissingRuleFailsWithEnoent() throws Exception {
        try (ScratchNetNs ns = new ScratchNetNs("rtnl-rule-missing")) {
            RtnetlinkException e = assertThrows(RtnetlinkException.class, () -> ns.netns.run(() -> {
                PolicyRoutes.deleteFwmarkRule(MARK, TABLE, PRIORITY);
                return null;
            }));
            assertEquals("ENOENT", e.errnoName());
            assertTrue(e.getMessage().startsWith("RTM_DELRULE fwmark 0x5349 table 21321 priority 100 failed: ENOENT "
                    + "(No such file or directory)"), e.getMessage());
        }
    }

    @Test
    void readsBackRulesWrittenByIpAndListsOnlyPlainFwmarkLookups() throws Exception {
        try (ScratchNetNs ns = new ScratchNetNs("rtnl-rule-ip")) {
            ip("-n", ns.name, "rule", "add", "fwmark", "0x77/0xff", "table", "300", "priority", "200");
            ip("-n", ns.name, "rule", "add", "fwmark", "0x1", "table", "5", "priority", "50");
            // not plain fwmark lookups: another selector, an inverted match, another action, a suppressor
            ip("-n", ns.name, "rule", "add", "from", "10.0.0.0/8", "fwmark", "0x2", "table", "6", "priority", "60");
            ip("-n", ns.name, "rule", "add", "not", "fwmark", "0x3", "table", "7", "priority", "70");
            ip("-n", ns.name, "rule", "add", "fwmark", "0x4", "iif", "lo", "table", "8", "priority", "80");
            ip("-n", ns.name, "rule", "add", "fwmark", "0x9", "prohibit", "priority", "90");
            ip("-n", ns.name, "rule", "add", "fwmark", "0xa", "table", "10", "suppress_prefixlength", "0",
                    "priority", "95");

            assertEquals(List.of(FwmarkRule.of(0x1, 5, 50), new FwmarkRule(0x77, 0xff, 300, 200)),
                    ns.netns.run(PolicyRoutes::fwmarkRules));

            // a table id below 256 travels in the header byte as well; deleting it works the same
            ns.netns.run(() -> {
                PolicyRoutes.deleteFwmarkRule(0x1, 5, 50);
                return null;
            });
            String rules = ip("-n", ns.name, "rule");
            assertFalse(rules.contains("fwmark 0x1 "), rules);
            assertTrue(rules.contains("200:\tfrom all fwmark 0x77/0xff lookup 300"), rules);
        }
    }

    @Test
    void addsShowsAndDeletesTheLocalDefaultRouteAsIpSeesIt() throws Exception {
        try (ScratchNetNs ns = new ScratchNetNs("rtnl-route")) {
            for (int table : new int[] {TABLE, 100}) {
                assertFalse(ns.netns.run(() -> PolicyRoutes.hasLocalDefaultRoute(table)));
                ns.netns.run(() -> {
                    PolicyRoutes.addLocalDefaultRoute(table);
                    return null;
                });
                assertTrue(ns.netns.run(() -> PolicyRoutes.hasLocalDefaultRoute(table)));
                assertEquals("local default dev lo scope host \n",
                        ip("-n", ns.name, "route", "show", "table", String.valueOf(table)));
                ns.netns.run(() -> {
                    PolicyRoutes.deleteLocalDefaultRoute(table);
                    return null;
                });
                assertFalse(ns.netns.run(() -> PolicyRoutes.hasLocalDefaultRoute(table)));
                assertEquals("", ip("-n", ns.name, "route", "show", "table", String.valueOf(table)));
            }
            assertFalse(ip("-n", ns.name, "route", "show", "table", "main").contains("local"),
                    "the main table must not be touched");
        }
    }

    @Test
    void addingTheRouteTwiceFailsWithEexistAndDeletingAMissingOneWithEsrch() throws Exception {
        try (ScratchNetNs ns = new ScratchNetNs("rtnl-route-twice")) {
            // a table that was never created: the kernel explains itself through the extended ack
            RtnetlinkException noTable = assertThrows(RtnetlinkException.class, () -> ns.netns.run(() -> {
                PolicyRoutes.deleteLocalDefaultRoute(TABLE);
                return null;
            }));
            assertEquals("ESRCH", noTable.errnoName());
            assertEquals("RTM_DELROUTE local 0.0.0.0/0 dev lo table 21321 failed: ESRCH (No such process); "
                    + "kernel: FIB table does not exist", noTable.getMessage().replaceAll("\\.$", ""));

            ns.netns.run(() -> {
                PolicyRoutes.addLocalDefaultRoute(TABLE);
                return null;
            });
            RtnetlinkException twice = assertThrows(RtnetlinkException.class, () -> ns.netns.run(() -> {
                PolicyRoutes.addLocalDefaultRoute(TABLE);
                return null;
            }));
            assertEquals("EEXIST", twice.errnoName());
            assertTrue(twice.getMessage().startsWith(
                    "RTM_NEWROUTE local 0.0.0.0/0 dev lo table 21321 failed: EEXIST (File exists)"), twice.getMessage());
            assertEquals(1, ip("-n", ns.name, "route", "show", "table", "21321").lines().count());

            ns.netns.run(() -> {
                PolicyRoutes.deleteLocalDefaultRoute(TABLE);
                return null;
            });
            // the table exists now, the route does not
            RtnetlinkException gone = assertThrows(RtnetlinkException.class, () -> ns.netns.run(() -> {
                PolicyRoutes.deleteLocalDefaultRoute(TABLE);
                return null;
            }));
            assertEquals("ESRCH", gone.errnoName());
        }
    }

    @Test
    void recognisesOnlyTheLocalDefaultRouteViaLoopback() throws Exception {
        try (ScratchNetNs ns = new ScratchNetNs("rtnl-route-ip")) {
            ip("-n", ns.name, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "77");
            ip("-n", ns.name, "route", "add", "local", "10.0.0.0/8", "dev", "lo", "table", "78");
            ip("-n", ns.name, "route", "add", "unreachable", "default", "table", "79");
            ip("-n", ns.name, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "80");
            assertTrue(ns.netns.run(() -> PolicyRoutes.hasLocalDefaultRoute(77)));
            assertFalse(ns.netns.run(() -> PolicyRoutes.hasLocalDefaultRoute(78)), "not a default route");
            assertFalse(ns.netns.run(() -> PolicyRoutes.hasLocalDefaultRoute(79)), "not a local route");
            ns.netns.run(() -> {
                PolicyRoutes.deleteLocalDefaultRoute(80);
                return null;
            });
            assertEquals("", ip("-n", ns.name, "route", "show", "table", "80"));
            assertFalse(ip("-n", ns.name, "route", "show", "table", "77").isEmpty(), "only table 80 was asked for");
        }
    }

    @Test
    void changesStayInTheNamespaceTheyWereMadeIn() throws Exception {
        try (ScratchNetNs a = new ScratchNetNs("rtnl-ns-a"); ScratchNetNs b = new ScratchNetNs("rtnl-ns-b")) {
            a.netns.run(() -> {
                PolicyRoutes.addFwmarkRule(MARK, TABLE, PRIORITY);
                PolicyRoutes.addLocalDefaultRoute(TABLE);
                return null;
            });
            assertEquals(List.of(), b.netns.run(PolicyRoutes::fwmarkRules));
            assertFalse(b.netns.run(() -> PolicyRoutes.hasLocalDefaultRoute(TABLE)));
            assertEquals(List.of(), PolicyRoutes.fwmarkRules(), "the root netns has no fwmark rule of ours");
            assertFalse(PolicyRoutes.hasLocalDefaultRoute(TABLE));
        }
    }

    @Test
    void closesItsSocketsWhetherTheKernelAgreesOrNot() throws Exception {
        try (ScratchNetNs ns = new ScratchNetNs("rtnl-fds")) {
            long before = openSockets();
            ns.netns.run(() -> {
                for (int i = 0; i < 20; i++) {
                    PolicyRoutes.addFwmarkRule(MARK, TABLE, PRIORITY);
                    assertThrows(RtnetlinkException.class, () -> PolicyRoutes.addFwmarkRule(MARK, TABLE, PRIORITY));
                    PolicyRoutes.fwmarkRules();
                    PolicyRoutes.deleteFwmarkRule(MARK, TABLE, PRIORITY);
                    assertThrows(RtnetlinkException.class, () -> PolicyRoutes.deleteLocalDefaultRoute(TABLE));
                }
                return null;
            });
            assertEquals(before, openSockets(), "socket fds leaked");
        }
    }

    @Test
    void refusesMarkZeroReservedTablesAndNonPositivePriorities() {
        IllegalArgumentException mark = assertThrows(IllegalArgumentException.class,
                () -> PolicyRoutes.addFwmarkRule(0, TABLE, PRIORITY));
        assertTrue(mark.getMessage().contains("fwmark 0"), mark.getMessage());
        for (int reserved : new int[] {0, 252, 253, 254, 255}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> PolicyRoutes.addLocalDefaultRoute(reserved));
            assertTrue(e.getMessage().startsWith("routing table " + reserved + " "), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> PolicyRoutes.hasLocalDefaultRoute(254));
        assertThrows(IllegalArgumentException.class, () -> PolicyRoutes.addLocalDefaultRoute(-5));
        assertThrows(IllegalArgumentException.class, () -> PolicyRoutes.deleteFwmarkRule(MARK, TABLE, 0));
    }

    @Test
    void ruleTextReadsLikeIpRule() {
        assertEquals("fwmark 0x5349 lookup 21321 priority 100", FwmarkRule.of(MARK, TABLE, PRIORITY).toString());
        assertEquals("fwmark 0x77/0xff lookup 300 priority 200", new FwmarkRule(0x77, 0xff, 300, 200).toString());
        assertEquals("fwmark 0x80000000 lookup 4294967295 priority 1",
                FwmarkRule.of(0x80000000, -1, 1).toString());
    }

    @Test
    void kernelErrorsAreNativeCallExceptions() {
        RtnetlinkException e = new RtnetlinkException("RTM_NEWRULE x", 17, "");
        assertTrue(e instanceof NativeCallException);
        assertEquals("RTM_NEWRULE x failed: EEXIST (File exists)", e.getMessage());
        assertEquals("RTM_NEWRULE x", e.call());
    }

    private static long openSockets() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().startsWith("socket:");
                } catch (IOException e) {
                    return false; // closed while listing
                }
            }).count();
        }
    }
}
