package io.shunt.hijack.tproxy;

import io.shunt.hijack.PolicyCase;
import io.shunt.hijack.nft.NftRuleset;
import io.shunt.ffi.ScratchNetNs;
import io.shunt.ffi.nft.Nftables;
import io.shunt.hijack.RulePlan;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TproxyRuleRendererTest {
    private static final TproxySettings DEFAULTS = TproxySettings.defaults();

    @ParameterizedTest
    @EnumSource(PolicyCase.class)
    void rendersTheGoldenScript(PolicyCase c) throws Exception {
        assertEquals(c.goldenScript(TechniqueId.TPROXY), TproxyRuleRenderer.installScript(c.policy, DEFAULTS),
                "rendered script differs from src/test/resources/golden/tproxy/" + c.golden);
    }

    /** {@code nft -c} in a scratch namespace: the kernel validates the whole transaction, nothing is applied. */
    @ParameterizedTest
    @EnumSource(PolicyCase.class)
    void nftAcceptsTheScriptAndThePlanText(PolicyCase c) throws Exception {
        try (ScratchNetNs ns = new ScratchNetNs("tproxy-check")) {
            String script = TproxyRuleRenderer.installScript(c.policy, DEFAULTS);
            Commands.Result checked = Commands.nftCheck(ns.name, script);
            assertEquals(0, checked.exit(), "nft -c rejected " + c.golden + ":\n" + checked.output());
            String planText = TproxyRuleRenderer.plan(c.policy, DEFAULTS).toString();
            Commands.Result plan = Commands.nftCheck(ns.name, planText);
            assertEquals(0, plan.exit(), "nft -c rejected the plan text:\n" + plan.output());
            assertEquals("", ns.netns.run(() -> Nftables.run("list ruleset")), "nft -c must not apply anything");
        }
    }

    /** The check above can fail: a script nft's parser accepts but the kernel refuses is caught by -c. */
    @Test
    void nftCheckRefusesAScriptTheKernelRejects() throws Exception {
        try (ScratchNetNs ns = new ScratchNetNs("tproxy-check-bad")) {
            String script = TproxyRuleRenderer.installScript(CapturePolicy.defaults(), DEFAULTS)
                    + "delete table inet shunt_ut_no_such_table\n";
            Commands.Result checked = Commands.nftCheck(ns.name, script);
            assertNotEquals(0, checked.exit(), checked.output());
            assertTrue(checked.output().contains("No such file or directory"), checked.output());
        }
    }

    @ParameterizedTest
    @EnumSource(PolicyCase.class)
    void everyChainInTheScriptCarriesThePrefix(PolicyCase c) {
        List<String> chains = TproxyRuleRenderer.installScript(c.policy, DEFAULTS).lines()
                .map(String::strip).filter(l -> l.startsWith("chain ")).toList();
        assertEquals(List.of("chain shunt_outbound_mark {", "chain shunt_prerouting_tproxy {"), chains);
    }

    @ParameterizedTest
    @EnumSource(PolicyCase.class)
    void neverShortcutsPureSynsOfTransparentSockets(PolicyCase c) {
        // measured: accepting "socket transparent 1" before TPROXY sends a SYN that hits the proxy's
        // TIME_WAIT socket an ACK instead of to the listener
        String script = TproxyRuleRenderer.installScript(c.policy, DEFAULTS);
        assertFalse(script.lines().anyMatch(l -> l.contains("socket transparent 1") && l.contains("accept")), script);
    }

    @Test
    void refusesToRenderAChainWithoutThePrefix() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> NftRuleset.chain("PREROUTING", "filter", "prerouting", -150, List.of("return")));
        assertTrue(e.getMessage().contains("'PREROUTING'") && e.getMessage().contains("shunt_"), e.getMessage());
    }

    @Test
    void removeScriptDeletesOnlyTheShuntTableAndToleratesItsAbsence() {
        assertEquals("table inet shunt {}\ndelete table inet shunt\n", NftRuleset.removeScript());
    }

    @Test
    void planCarriesTechniquePolicyBothScriptsAndTheRoutingSteps() {
        CapturePolicy policy = CapturePolicy.defaults().withCaptureInbound(false);
        TproxyHijacker hijacker = new TproxyHijacker();
        TproxyPlan plan = hijacker.tproxyPlan(policy);
        RulePlan nft = hijacker.plan(policy);
        assertEquals(nft, plan.nft());
        assertEquals(TechniqueId.TPROXY, nft.technique());
        assertSame(policy, nft.policy());
        assertEquals(TproxyRuleRenderer.installScript(policy, DEFAULTS), nft.nftScript());
        assertEquals(NftRuleset.removeScript(), nft.removeScript());
        assertEquals(nft.nftScript(), nft.toString());
        assertEquals(List.of("ip rule add fwmark 0x5349 lookup 21321 priority 100",
                "ip route add local 0.0.0.0/0 dev lo table 21321"), plan.routingSteps());
        assertEquals("# policy routing, applied over rtnetlink before the nft script:\n"
                + "# ip rule add fwmark 0x5349 lookup 21321 priority 100\n"
                + "# ip route add local 0.0.0.0/0 dev lo table 21321\n"
                + nft.nftScript(), plan.toString());
    }

    @Test
    void settingsShowUpInScriptAndRouting() {
        TproxySettings custom = new TproxySettings(0x77, 300, 42);
        TproxyPlan plan = TproxyRuleRenderer.plan(CapturePolicy.defaults(), custom);
        assertTrue(plan.nft().nftScript().contains("meta mark set 0x00000077\n"), plan.toString());
        assertTrue(plan.nft().nftScript().contains("iifname \"lo\" meta mark 0x00000077 meta l4proto tcp tproxy"),
                plan.toString());
        assertEquals(List.of("ip rule add fwmark 0x77 lookup 300 priority 42",
                "ip route add local 0.0.0.0/0 dev lo table 300"), plan.routingSteps());
    }

    @Test
    void refusesAPolicyWhoseBypassMarkIsTheTproxyMark() {
        CapturePolicy clash = CapturePolicy.defaults().withBypassMark(TproxySettings.DEFAULT_MARK);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TproxyHijacker().plan(clash));
        assertTrue(e.getMessage().contains("bypassMark 0x5349 equals the tproxy mark"), e.getMessage());
    }

    @Test
    void negativeMarksRenderAsUnsigned32BitHex() {
        String script = TproxyRuleRenderer.installScript(CapturePolicy.defaults().withBypassMark(0x80000001),
                new TproxySettings(0x80000002, 21321, 100));
        assertTrue(script.contains("meta mark 0x80000001 return"), script);
        assertTrue(script.contains("meta mark set 0x80000002\n"), script);
    }
}
