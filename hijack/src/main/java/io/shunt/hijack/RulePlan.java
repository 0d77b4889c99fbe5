package io.shunt.hijack;

import io.shunt.hijack.policy.CapturePolicy;

import java.util.Objects;

/**
 * Everything a technique would do to a pod for a policy, rendered before anything is applied:
 * rules are data first, applied second. A plan can be printed, diffed and checked without a
 * kernel; {@link Hijacker#install} applies exactly this text.
 *
 * @param nftScript    the install script, one nft transaction that replaces whatever Shunt had there
 * @param removeScript the script that removes everything the install script creates
 */
public record RulePlan(TechniqueId technique, CapturePolicy policy, String nftScript, String removeScript) {

    public RulePlan {
        Objects.requireNonNull(technique, "technique");
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(nftScript, "nftScript");
        Objects.requireNonNull(removeScript, "removeScript");
    }

    /** The install script, as it would be applied. */
    @Override
    public String toString() {
        return nftScript;
    }
}
