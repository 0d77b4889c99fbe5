package io.shunt.hijack.tproxy;

import io.shunt.hijack.PolicyCase;
import io.shunt.ffi.ScratchNetNs;
import io.shunt.ffi.netns.NetNs;
import io.shunt.ffi.nft.Nftables;
import io.shunt.hijack.HijackException;
import io.shunt.hijack.RulePlan;
import io.shunt.hijack.policy.CapturePolicy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Optional;

import static io.shunt.hijack.tproxy.Commands.ip;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Applies the tproxy rules and policy routing to namespaces this test creates. The root namespace
 * is only ever read (ruleset, rules, routes) to prove the whole class left it alone.
 */
class TproxyHijackerKernelTest {
    private static final String RULE_LINE = "100:\tfrom all fwmark 0x5349 lookup 21321";
    private static final String ROUTE_LINE = "local default dev lo scope host \n";

    private static Snapshot rootBefore;

    private final TproxyHijacker hijacker = new TproxyHijacker();

    /** Everything tproxy can touch in a namespace, as the reference tools print it. */
    private record Snapshot(String ruleset, String rules, String routes) {
        static Snapshot of(ScratchNetNs ns) throws Exception {
            return new Snapshot(ns.netns.run(() -> Nftables.run("list ruleset")),
                    ip("-n", ns.name, "rule"), ip("-n", ns.name, "route", "show", "table", "all"));
        }

        static Snapshot root() throws Exception {
            return new Snapshot(Nftables.run("list ruleset"), ip("rule"), ip("route", "show", "table", "all"));
        }
    }

    @BeforeAll
    static void snapshotRoot() throws Exception {
        rootBefore = Snapshot.root();
    }

    @AfterAll
    static void rootIsUnchanged() throws Exception {
        assertEquals(rootBefore, Snapshot.root(), "the root netns ruleset, rules or routes changed during the test");
    }

    private static String rules(ScratchNetNs ns) throws Exception {
        return ip("-n", ns.name, "rule");
    }

    /**
     * {@code ip route show table 21321}. Before anything was ever added to it the table does not
     * exist and ip says so; the kernel keeps an IPv4 table once created, even when it is empty again
     * (until the namespace goes), so "no such table" and "empty table" both read as no routes.
     */
    private static String tproxyTable(ScratchNetNs ns) throws Exception {
        try {
            return ip("-n", ns.name, "route", "show", "table", "21321");
        } catch (java.io.IOException e) {
            if (e.getMessage().contains("FIB table does not exist")) {
                return "";
            }
            throw e;
        }
    }

    private static long shuntTables(NetNs ns) throws Exception {
        return ns.run(() -> Nftables.run("list tables")).lines().filter(l -> l.strip().equals("table inet shunt")).count();
    }

    @ParameterizedTest
    @EnumSource(PolicyCase.class)
    void installAppliesTheChainsTheRuleAndTheRoute(PolicyCase c) throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-install")) {
            hijacker.install(pod.netns, c.policy);
            String listed = hijacker.installed(pod.netns).orElseThrow();
            assertTrue(listed.contains("chain shunt_outbound_mark {"), listed);
            assertTrue(listed.contains("chain shunt_prerouting_tproxy {"), listed);
            assertTrue(listed.contains("meta mark set 0x00005349"), listed);
            assertTrue(listed.contains("tproxy ip to 127.0.0.1:" + c.policy.outboundPort()), listed);
            assertEquals(c.policy.captureInbound(), listed.contains("tproxy ip to :" + c.policy.inboundPort()), listed);
            assertTrue(listed.contains(String.format("meta mark 0x%08x return", c.policy.bypassMark())), listed);
            assertTrue(listed.endsWith("ip rule: fwmark 0x5349 lookup 21321 priority 100\n"
                    + "ip route table 21321: local 0.0.0.0/0 dev lo\n"), listed);

            assertTrue(rules(pod).contains(RULE_LINE + "\n"), rules(pod));
            assertEquals(ROUTE_LINE, tproxyTable(pod));
        }
    }

    @Test
    void installTwiceLeavesOneTableOneRuleOneRoute() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-twice")) {
            hijacker.install(pod.netns, PolicyCase.INCLUDE_EXCLUDE.policy);
            Snapshot once = Snapshot.of(pod);
            hijacker.install(pod.netns, PolicyCase.INCLUDE_EXCLUDE.policy);
            assertEquals(once, Snapshot.of(pod));
            assertEquals(1, shuntTables(pod.netns));
            assertEquals(1, rules(pod).lines().filter(l -> l.contains("fwmark 0x5349")).count(), rules(pod));
            assertEquals(ROUTE_LINE, tproxyTable(pod));
        }
    }

    @Test
    void removeLeavesRulesetRulesAndRoutesAsTheyWereBeforeInstall() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-remove")) {
            Snapshot before = Snapshot.of(pod);
            String tableBefore = tproxyTable(pod);
            hijacker.install(pod.netns, CapturePolicy.defaults());
            Snapshot installed = Snapshot.of(pod);
            assertNotEquals(before.ruleset(), installed.ruleset());
            assertNotEquals(before.rules(), installed.rules());
            assertNotEquals(before.routes(), installed.routes());

            hijacker.remove(pod.netns);
            assertEquals(before, Snapshot.of(pod));
            assertEquals("", before.ruleset());
            assertEquals(tableBefore, tproxyTable(pod));
            assertEquals(Optional.empty(), hijacker.installed(pod.netns));
        }
    }

    @Test
    void removeLeavesForeignTablesRulesAndRoutesAlone() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-foreign")) {
            pod.netns.run(() -> Nftables.run("table ip other { chain c { type filter hook output priority 0; }; }"));
            ip("-n", pod.name, "rule", "add", "fwmark", "0x5349", "table", "21321", "priority", "200");
            ip("-n", pod.name, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "77");
            Snapshot before = Snapshot.of(pod);
            hijacker.install(pod.netns, CapturePolicy.defaults());
            hijacker.remove(pod.netns);
            assertEquals(before, Snapshot.of(pod));
            assertTrue(before.ruleset().contains("table ip other"), before.ruleset());
            assertTrue(before.rules().contains("200:\tfrom all fwmark 0x5349 lookup 21321"), before.rules());
        }
    }

    @Test
    void removeWhenNothingIsInstalledSucceeds() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-remove-empty")) {
            Snapshot before = Snapshot.of(pod);
            hijacker.remove(pod.netns);
            hijacker.remove(pod.netns);
            assertEquals(before, Snapshot.of(pod));
            assertEquals(Optional.empty(), hijacker.installed(pod.netns));
        }
    }

    @Test
    void removeAlsoClearsAHalfInstalledPod() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-half")) {
            Snapshot before = Snapshot.of(pod);
            // as a crash between the routing and the nft step would leave it
            ip("-n", pod.name, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "21321");
            ip("-n", pod.name, "rule", "add", "fwmark", "0x5349", "table", "21321", "priority", "100");
            assertEquals("ip rule: fwmark 0x5349 lookup 21321 priority 100\n"
                    + "ip route table 21321: local 0.0.0.0/0 dev lo\n", hijacker.installed(pod.netns).orElseThrow());
            hijacker.remove(pod.netns);
            assertEquals(before.rules(), rules(pod));
            assertEquals("", tproxyTable(pod));
        }
    }

    @Test
    void reinstallWithAnotherPolicyReplacesTheNftRules() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-replace"); ScratchNetNs fresh = new ScratchNetNs("tproxy-ref")) {
            hijacker.install(pod.netns, PolicyCase.INCLUDE_EXCLUDE.policy);
            hijacker.install(pod.netns, PolicyCase.OUTBOUND_ONLY.policy);
            hijacker.install(fresh.netns, PolicyCase.OUTBOUND_ONLY.policy);
            String replaced = hijacker.installed(pod.netns).orElseThrow();
            assertEquals(hijacker.installed(fresh.netns).orElseThrow(), replaced);
            assertFalse(replaced.contains("15101"), replaced);
            assertEquals(1, shuntTables(pod.netns));
        }
    }

    /** A plan whose nft script the kernel rejects after it has seen the whole new table. */
    private TproxyPlan brokenPlan(CapturePolicy policy) {
        TproxyPlan good = hijacker.tproxyPlan(policy);
        RulePlan nft = good.nft();
        return new TproxyPlan(new RulePlan(nft.technique(), nft.policy(),
                nft.nftScript() + "delete table inet shunt_ut_no_such_table\n", nft.removeScript()), good.settings());
    }

    @Test
    void aFailedNftTransactionTakesTheRoutingItAddedOutAgain() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-atomic")) {
            Snapshot before = Snapshot.of(pod);
            HijackException e = assertThrows(HijackException.class,
                    () -> hijacker.install(pod.netns, brokenPlan(CapturePolicy.defaults())));
            assertTrue(e.getMessage().startsWith("tproxy install in netns " + pod.path() + " failed"), e.getMessage());
            assertTrue(e.getMessage().contains("Could not process rule: No such file or directory"),
                    "nft's error text should be in: " + e.getMessage());
            assertTrue(e.getMessage().contains("the policy routing it added (ip rule fwmark 0x5349 lookup 21321 "
                    + "priority 100, ip route local 0.0.0.0/0 dev lo table 21321) was taken out again"), e.getMessage());
            assertEquals(before, Snapshot.of(pod));
            assertFalse(rules(pod).contains("fwmark"), rules(pod));
            assertEquals("", tproxyTable(pod));
            assertEquals(Optional.empty(), hijacker.installed(pod.netns));
        }
    }

    @Test
    void aFailedReinstallLeavesThePreviousInstallUntouched() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-atomic-re")) {
            hijacker.install(pod.netns, PolicyCase.DEFAULTS.policy);
            Snapshot before = Snapshot.of(pod);
            HijackException e = assertThrows(HijackException.class,
                    () -> hijacker.install(pod.netns, brokenPlan(PolicyCase.INCLUDE_EXCLUDE.policy)));
            assertTrue(e.getMessage().contains("it added no policy routing"), e.getMessage());
            assertEquals(before, Snapshot.of(pod));
        }
    }

    @Test
    void aConflictingRouteFailsTheInstallAndLeavesNothingOfShunts() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-conflict")) {
            // someone else's default route in "our" table: ours cannot be added next to it
            ip("-n", pod.name, "route", "add", "blackhole", "0.0.0.0/0", "table", "21321");
            Snapshot before = Snapshot.of(pod);
            HijackException e = assertThrows(HijackException.class,
                    () -> hijacker.install(pod.netns, CapturePolicy.defaults()));
            assertTrue(e.getMessage().contains(
                    "RTM_NEWROUTE local 0.0.0.0/0 dev lo table 21321 failed: EEXIST (File exists)"), e.getMessage());
            assertEquals(before, Snapshot.of(pod));
            assertEquals(0, shuntTables(pod.netns));
            assertFalse(rules(pod).contains("fwmark"), rules(pod));
        }
    }

    @Test
    void aPolicyWhoseBypassMarkIsTheTproxyMarkIsRefusedBeforeAnythingIsApplied() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-clash")) {
            Snapshot before = Snapshot.of(pod);
            assertThrows(IllegalArgumentException.class, () -> hijacker.install(pod.netns,
                    CapturePolicy.defaults().withBypassMark(TproxySettings.DEFAULT_MARK)));
            assertEquals(before, Snapshot.of(pod));
        }
    }

    @Test
    void customSettingsAreWhatGetsInstalledAndRemoved() throws Exception {
        TproxyHijacker custom = new TproxyHijacker(new TproxySettings(0x77, 300, 42));
        try (ScratchNetNs pod = new ScratchNetNs("tproxy-custom")) {
            Snapshot before = Snapshot.of(pod);
            custom.install(pod.netns, CapturePolicy.defaults());
            assertTrue(rules(pod).contains("42:\tfrom all fwmark 0x77 lookup 300\n"), rules(pod));
            assertEquals(ROUTE_LINE, ip("-n", pod.name, "route", "show", "table", "300"));
            assertEquals(Optional.empty(), hijacker.installed(pod.netns).filter(s -> s.contains("ip rule")),
                    "the default-settings hijacker sees no rule of its own");
            custom.remove(pod.netns);
            assertEquals(before, Snapshot.of(pod));
        }
    }
}
