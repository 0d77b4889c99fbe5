package io.shunt.hijack.select;

import io.shunt.hijack.TechniqueId;

/**
 * What the selector concluded about one technique for one pod, in words an operator can act on:
 * {@code tproxy: failed, nft rejected ...}, {@code redirect: chosen}.
 */
public record Verdict(TechniqueId technique, Outcome outcome, String reason) {
    public enum Outcome {
        /** Installed: this technique intercepts the pod. */
        CHOSEN("chosen"),
        /** Not tried: the kernel lacks something it needs. */
        SKIPPED("skipped"),
        /** Tried, and installing it failed; nothing of it was left behind. */
        FAILED("failed"),
        /** Not tried: a better-ranked technique was chosen first. */
        NOT_TRIED("not tried");

        private final String word;

        Outcome(String word) {
            this.word = word;
        }

        public String word() {
            return word;
        }
    }

    @Override
    public String toString() {
        return technique.id() + ": " + outcome.word() + (reason.isEmpty() ? "" : ", " + reason);
    }
}
