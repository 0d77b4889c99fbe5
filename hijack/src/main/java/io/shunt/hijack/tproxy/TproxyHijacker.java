package io.shunt.hijack.tproxy;

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
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The {@code tproxy} technique: nftables marks and TPROXY inside the pod's netns, plus a fwmark
 * policy route that brings marked packets back in over {@code lo}. No NAT: the proxy's listeners
 * are {@code IP_TRANSPARENT}, the original destination is the accepted socket's local address,
 * and inbound connections keep the client's source address.
 *
 * <p>Three things are installed per pod and all three are owned by Shunt: the nft table
 * {@code inet shunt}, the fwmark rule and the local default route in {@link TproxySettings#table}.
 * The policy routing is added first and only where missing; the nft part is one transaction, and
 * if it fails, the routing this install added is taken out again. The nft table is shared by all
 * nftables techniques (installing one replaces another's), the routing is tproxy's alone.
 */
public final class TproxyHijacker implements Hijacker {
    private final TproxySettings settings;

    /** With the default mark, table and rule priority. */
    public TproxyHijacker() {
        this(TproxySettings.defaults());
    }

    public TproxyHijacker(TproxySettings settings) {
        this.settings = Objects.requireNonNull(settings, "settings");
    }

    public TproxySettings settings() {
        return settings;
    }

    @Override
    public TechniqueId technique() {
        return TechniqueId.TPROXY;
    }

    /**
     * The nft part of {@link #tproxyPlan}.
     *
     * @throws IllegalArgumentException when the policy's bypass mark equals the tproxy mark
     */
    @Override
    public RulePlan plan(CapturePolicy policy) {
        return tproxyPlan(policy).nft();
    }

    /** Everything {@link #install} applies for {@code policy}: policy routing and the nft script. */
    public TproxyPlan tproxyPlan(CapturePolicy policy) {
        return TproxyRuleRenderer.plan(policy, settings);
    }

    /**
     * @throws IllegalArgumentException when the policy's bypass mark equals the tproxy mark
     */
    @Override
    public void install(NetNs pod, CapturePolicy policy) throws HijackException {
        install(pod, tproxyPlan(policy));
    }

    /** Applies a plan as given; the seam through which tests prove a failed script leaves nothing behind. */
    void install(NetNs pod, TproxyPlan plan) throws HijackException {
        TproxySettings s = plan.settings();
        List<String> undone = new ArrayList<>();
        run(pod, "install", () -> {
            List<DivertRouting.Added> added = new ArrayList<>();
            try {
                DivertRouting.ensure(s, added);
                Nftables.run(plan.nft().nftScript());
            } catch (IOException | RuntimeException e) {
                for (DivertRouting.Added undo : added.reversed()) {
                    try {
                        undo.undo().run();
                        undone.add(undo.what());
                    } catch (IOException | RuntimeException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                throw e;
            }
            return null;
        }, e -> consequence(e, undone));
    }

    /** What state a failed install left, for the end of its error message. */
    private static String consequence(IOException e, List<String> undone) {
        String routing = undone.isEmpty() ? "it added no policy routing"
                : "the policy routing it added (" + String.join(", ", undone) + ") was taken out again";
        if (e.getSuppressed().length > 0) {
            routing += "; undoing some of it failed too, see the suppressed exceptions, and run remove";
        }
        return routing + "; the pod's previous nft rules, if any, are unchanged (the nft script is one transaction)";
    }

    /**
     * Removes the nft table first, so nothing is marked any more, then the fwmark rule and the
     * route, and checks that none of the three is left.
     */
    @Override
    public void remove(NetNs pod) throws HijackException {
        run(pod, "remove", () -> {
            Nftables.run(NftRuleset.removeScript());
            DivertRouting.remove(settings);
            return null;
        }, e -> "whatever was not removed yet is still installed; run remove again");
        List<String> remaining = run(pod, "remove (verify)", this::present, e -> "");
        if (!remaining.isEmpty()) {
            throw new HijackException(technique(), "remove", pod.path(), String.join(", ", remaining)
                    + " still present after removal, so the pod's traffic may still be diverted; check whether another "
                    + "process (a second agent?) manages this pod, then retry the remove", null);
        }
    }

    /** Removes the fwmark rule and the local route; the table now belongs to the technique that replaced it. */
    @Override
    public void releaseAfterReplaced(NetNs pod) throws HijackException {
        run(pod, "release of policy routing", () -> {
            DivertRouting.remove(settings);
            return null;
        }, e -> "whatever was not removed yet is still installed; it is harmless once nothing sets mark "
                + "0x" + Integer.toHexString(settings.mark()));
    }

    /**
     * The nft table as {@code nft list table} prints it, followed by the policy routing, e.g.
     * {@code ip rule: fwmark 0x5349 lookup 21321 priority 100} and
     * {@code ip route table 21321: local 0.0.0.0/0 dev lo}. Whatever part is present is shown, so
     * a half-removed pod reads as such; empty when none is.
     */
    @Override
    public Optional<String> installed(NetNs pod) throws HijackException {
        return run(pod, "read rules", () -> {
            StringBuilder out = new StringBuilder();
            if (NftRuleset.tablePresentHere()) {
                out.append(Nftables.run("list table " + NftRuleset.TABLE));
            }
            out.append(DivertRouting.render(settings));
            return out.isEmpty() ? Optional.<String>empty() : Optional.of(out.toString());
        }, e -> "");
    }

    /** What of this technique is in the namespace, one description per part. */
    private List<String> present() throws IOException {
        List<String> parts = new ArrayList<>();
        if (NftRuleset.tablePresentHere()) {
            parts.add("nft table " + NftRuleset.TABLE);
        }
        parts.addAll(DivertRouting.present(settings));
        return parts;
    }


    private <T> T run(NetNs pod, String operation, NetNs.NetNsAction<T, IOException> action,
                      Consequence consequence) throws HijackException {
        try {
            return pod.run(action);
        } catch (IOException e) {
            // NftException carries nft's error text; RtnetlinkException names the request and the errno;
            // NetNs and setns errors name the path
            String after = consequence.of(e);
            throw new HijackException(technique(), operation, pod.path(),
                    e.getMessage() + (after.isEmpty() ? "" : "\n(" + after + ")"), e);
        }
    }

    /** Describes the state a failed operation left, given its exception. */
    @FunctionalInterface
    private interface Consequence {
        String of(IOException e);
    }

}
