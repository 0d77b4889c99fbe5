package io.shunt.hijack.redirect;

import io.shunt.hijack.PolicyCase;
import io.shunt.hijack.nft.NftRuleset;
import io.shunt.hijack.RulePlan;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RedirectRuleRendererTest {

    @ParameterizedTest
    @EnumSource(PolicyCase.class)
    void rendersTheGoldenScript(PolicyCase c) throws Exception {
        assertEquals(c.goldenScript(TechniqueId.REDIRECT), RedirectRuleRenderer.installScript(c.policy),
                "rendered script differs from src/test/resources/golden/redirect/" + c.golden);
    }

    @ParameterizedTest
    @EnumSource(PolicyCase.class)
    void everyChainInTheScriptCarriesThePrefix(PolicyCase c) {
        List<String> chains = RedirectRuleRenderer.installScript(c.policy).lines()
                .map(String::strip).filter(l -> l.startsWith("chain ")).toList();
        assertFalse(chains.isEmpty());
        chains.forEach(l -> assertTrue(l.startsWith("chain shunt_"), l));
    }

    @Test
    void refusesToRenderAChainWithoutThePrefix() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> NftRuleset.chain("OUTPUT", "nat", "output", -100, List.of("return")));
        assertTrue(e.getMessage().contains("'OUTPUT'") && e.getMessage().contains("shunt_"), e.getMessage());
    }

    @Test
    void removeScriptDeletesOnlyTheShuntTableAndToleratesItsAbsence() {
        assertEquals("table inet shunt {}\ndelete table inet shunt\n", NftRuleset.removeScript());
    }

    @Test
    void planCarriesTechniquePolicyAndBothScriptsAndPrintsTheInstallScript() {
        CapturePolicy policy = CapturePolicy.defaults().withCaptureInbound(false);
        RulePlan plan = new RedirectHijacker().plan(policy);
        assertEquals(TechniqueId.REDIRECT, plan.technique());
        assertSame(policy, plan.policy());
        assertEquals(RedirectRuleRenderer.installScript(policy), plan.nftScript());
        assertEquals(NftRuleset.removeScript(), plan.removeScript());
        assertEquals(plan.nftScript(), plan.toString());
    }

    @Test
    void negativeMarksRenderAsUnsigned32BitHex() {
        String script = RedirectRuleRenderer.installScript(CapturePolicy.defaults().withBypassMark(0x80000001));
        assertTrue(script.contains("meta mark 0x80000001 return"), script);
    }
}
