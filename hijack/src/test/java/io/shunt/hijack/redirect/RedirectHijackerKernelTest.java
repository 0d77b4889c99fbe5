package io.shunt.hijack.redirect;

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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Applies the redirect rules to namespaces this test creates. The root namespace is only ever read
 * ({@code list ruleset}) to prove the whole class left it alone.
 */
class RedirectHijackerKernelTest {
    private static String rootRulesetBefore;

    private final RedirectHijacker hijacker = new RedirectHijacker();

    @BeforeAll
    static void snapshotRootRuleset() throws Exception {
        rootRulesetBefore = Nftables.run("list ruleset");
    }

    @AfterAll
    static void rootRulesetIsUnchanged() throws Exception {
        assertEquals(rootRulesetBefore, Nftables.run("list ruleset"), "the root netns ruleset changed during the test");
    }

    private static String ruleset(NetNs ns) throws Exception {
        return ns.run(() -> Nftables.run("list ruleset"));
    }

    private static long shuntTables(NetNs ns) throws Exception {
        return ns.run(() -> Nftables.run("list tables")).lines().filter(l -> l.strip().equals("table inet shunt")).count();
    }

    @ParameterizedTest
    @EnumSource(PolicyCase.class)
    void installAppliesTheChainsOfThePolicy(PolicyCase c) throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("install")) {
            hijacker.install(pod.netns, c.policy);
            String listed = hijacker.installed(pod.netns).orElseThrow();
            assertTrue(listed.contains("chain shunt_outbound_capture {"), listed);
            assertTrue(listed.contains("redirect to :" + c.policy.outboundPort()), listed);
            assertEquals(c.policy.captureInbound(), listed.contains("chain shunt_inbound_capture {"), listed);
            assertEquals(c.policy.captureInbound(), listed.contains("redirect to :" + c.policy.inboundPort()), listed);
            assertTrue(listed.contains(String.format("meta mark 0x%08x return", c.policy.bypassMark())), listed);
        }
    }

    @Test
    void installTwiceLeavesExactlyOneIdenticalTable() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("twice")) {
            hijacker.install(pod.netns, PolicyCase.INCLUDE_EXCLUDE.policy);
            String once = ruleset(pod.netns);
            hijacker.install(pod.netns, PolicyCase.INCLUDE_EXCLUDE.policy);
            assertEquals(once, ruleset(pod.netns));
            assertEquals(1, shuntTables(pod.netns));
            assertEquals(1, once.lines().filter(l -> l.contains("chain shunt_outbound_capture")).count(), once);
        }
    }

    @Test
    void removeLeavesTheRulesetAsItWasBeforeInstall() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("remove")) {
            String before = ruleset(pod.netns);
            hijacker.install(pod.netns, CapturePolicy.defaults());
            assertNotEquals(before, ruleset(pod.netns));
            hijacker.remove(pod.netns);
            assertEquals(before, ruleset(pod.netns));
            assertEquals("", before);
            assertEquals(Optional.empty(), hijacker.installed(pod.netns));
        }
    }

    @Test
    void removeLeavesForeignTablesAlone() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("foreign")) {
            pod.netns.run(() -> Nftables.run("table ip other { chain c { type filter hook output priority 0; }; }"));
            String before = ruleset(pod.netns);
            hijacker.install(pod.netns, CapturePolicy.defaults());
            hijacker.remove(pod.netns);
            assertEquals(before, ruleset(pod.netns));
            assertTrue(before.contains("table ip other"), before);
        }
    }

    @Test
    void removeWhenNothingIsInstalledSucceeds() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("remove-empty")) {
            hijacker.remove(pod.netns);
            hijacker.remove(pod.netns);
            assertEquals("", ruleset(pod.netns));
            assertEquals(Optional.empty(), hijacker.installed(pod.netns));
        }
    }

    @Test
    void reinstallWithAnotherPolicyReplacesTheRules() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("replace"); ScratchNetNs fresh = new ScratchNetNs("replace-ref")) {
            hijacker.install(pod.netns, PolicyCase.INCLUDE_EXCLUDE.policy);
            hijacker.install(pod.netns, PolicyCase.OUTBOUND_ONLY.policy);
            hijacker.install(fresh.netns, PolicyCase.OUTBOUND_ONLY.policy);
            String replaced = hijacker.installed(pod.netns).orElseThrow();
            assertEquals(hijacker.installed(fresh.netns).orElseThrow(), replaced);
            assertFalse(replaced.contains("15101"), replaced);
            assertEquals(1, shuntTables(pod.netns));
        }
    }

    @Test
    void aFailedInstallLeavesThePreviousRulesUntouched() throws Exception {
        try (ScratchNetNs pod = new ScratchNetNs("atomic")) {
            hijacker.install(pod.netns, PolicyCase.DEFAULTS.policy);
            String before = ruleset(pod.netns);
            // The kernel, not nft's parser, rejects the last command, after it has seen the delete and
            // the complete new table: only the transaction's rollback can keep the old rules.
            RulePlan good = hijacker.plan(PolicyCase.INCLUDE_EXCLUDE.policy);
            RulePlan broken = new RulePlan(good.technique(), good.policy(),
                    good.nftScript() + "delete table inet shunt_ut_no_such_table\n", good.removeScript());
            HijackException e = assertThrows(HijackException.class, () -> hijacker.install(pod.netns, broken));
            assertTrue(e.getMessage().startsWith("redirect install in netns " + pod.path() + " failed"), e.getMessage());
            assertTrue(e.getMessage().contains("Could not process rule: No such file or directory"),
                    "nft's error text should be in: " + e.getMessage());
            assertEquals(before, ruleset(pod.netns));
        }
    }
}
