package io.shunt.hijack.redirect;

import io.shunt.ffi.netns.NetNs;
import io.shunt.ffi.nft.NftException;
import io.shunt.ffi.nft.Nftables;
import io.shunt.hijack.HijackException;
import io.shunt.hijack.Hijacker;
import io.shunt.hijack.RulePlan;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.nft.NftRuleset;
import io.shunt.hijack.policy.CapturePolicy;

import java.io.IOException;
import java.util.Optional;

/**
 * The {@code redirect} technique: nftables DNAT inside the pod's netns, the universal fallback.
 * The proxy reads the original destination with {@code SO_ORIGINAL_DST}. Each operation is one
 * nft transaction run on the calling thread after it enters the pod's namespace.
 */
public final class RedirectHijacker implements Hijacker {

    @Override
    public TechniqueId technique() {
        return TechniqueId.REDIRECT;
    }

    @Override
    public RulePlan plan(CapturePolicy policy) {
        return RedirectRuleRenderer.plan(policy);
    }

    @Override
    public void install(NetNs pod, CapturePolicy policy) throws HijackException {
        install(pod, plan(policy));
    }

    /** Applies a plan as given; the seam through which tests prove a failed script changes nothing. */
    void install(NetNs pod, RulePlan plan) throws HijackException {
        run(pod, "install", "the pod's previous rules, if any, are unchanged (the script is one transaction)",
                () -> Nftables.run(plan.nftScript()));
    }

    @Override
    public void remove(NetNs pod) throws HijackException {
        run(pod, "remove", "the pod's rules are unchanged (the script is one transaction)",
                () -> Nftables.run(NftRuleset.removeScript()));
        if (run(pod, "remove (verify)", "", NftRuleset::tablePresentHere)) {
            throw new HijackException(technique(), "remove", pod.path(), "table " + NftRuleset.TABLE
                    + " is still present after the remove script ran, so the pod's traffic may still be diverted; "
                    + "check whether another process (a second agent?) manages this pod, then retry the remove", null);
        }
    }

    @Override
    public Optional<String> installed(NetNs pod) throws HijackException {
        // list tables first: listing a missing table is an error we would otherwise have to parse
        return run(pod, "read rules", "", () -> NftRuleset.tablePresentHere()
                ? Optional.of(Nftables.run("list table " + NftRuleset.TABLE))
                : Optional.empty());
    }


    private <T> T run(NetNs pod, String operation, String consequence, NetNs.NetNsAction<T, NftException> action)
            throws HijackException {
        try {
            return pod.run(action);
        } catch (IOException e) {
            // NftException carries nft's error text in its message; NetNs and setns errors name the path
            String problem = e.getMessage() + (consequence.isEmpty() ? "" : "\n(" + consequence + ")");
            throw new HijackException(technique(), operation, pod.path(), problem, e);
        }
    }

    /** Redirect installs nothing but the table. */
    @Override
    public void releaseAfterReplaced(NetNs pod) {
    }
}
