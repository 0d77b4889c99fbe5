package io.shunt.hijack.select;

import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.probe.Feature;
import io.shunt.hijack.probe.KernelFeatures;
import io.shunt.hijack.probe.ProbeResult;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Picks the interception technique for a pod: walks the ranking best first, skips what the probed
 * kernel rules out, tries to install the rest in turn and falls back on failure. Every decision is
 * kept as a {@link Verdict}, so the agent and the CLI can say why a pod ended up where it did.
 *
 * <p>A probe that could not decide does not rule a technique out: the install attempt is the
 * final judge, and its failure is a fallback like any other.
 */
public final class Selector {
    /** Best first. A technique joins this list only once it passes the conformance suite. */
    public static final List<TechniqueId> DEFAULT_RANKING = List.of(TechniqueId.TC, TechniqueId.TPROXY, TechniqueId.REDIRECT);

    private final List<TechniqueId> ranking;

    public Selector(List<TechniqueId> ranking) {
        if (ranking.isEmpty()) {
            throw new IllegalArgumentException("the technique ranking is empty; name at least one of "
                    + List.of(TechniqueId.values()));
        }
        if (new HashSet<>(ranking).size() != ranking.size()) {
            throw new IllegalArgumentException("the technique ranking " + ranking + " names a technique twice");
        }
        this.ranking = List.copyOf(ranking);
    }

    public List<TechniqueId> ranking() {
        return ranking;
    }

    /** Installs one technique for the pod, or throws and leaves nothing of it installed. */
    @FunctionalInterface
    public interface Attempt {
        void install(TechniqueId technique) throws Exception;
    }

    /**
     * @throws NoTechniqueException when every technique was skipped or failed
     */
    public Selection select(KernelFeatures features, Attempt attempt) throws NoTechniqueException {
        List<Verdict> verdicts = new ArrayList<>();
        Exception lastFailure = null;
        TechniqueId chosen = null;
        for (TechniqueId technique : ranking) {
            if (chosen != null) {
                verdicts.add(new Verdict(technique, Verdict.Outcome.NOT_TRIED, ""));
                continue;
            }
            String missing = missing(features, technique);
            if (!missing.isEmpty()) {
                verdicts.add(new Verdict(technique, Verdict.Outcome.SKIPPED, missing));
                continue;
            }
            try {
                attempt.install(technique);
                chosen = technique;
                verdicts.add(new Verdict(technique, Verdict.Outcome.CHOSEN, inconclusive(features, technique)));
            } catch (Exception e) {
                lastFailure = e;
                verdicts.add(new Verdict(technique, Verdict.Outcome.FAILED, String.valueOf(e.getMessage())));
            }
        }
        if (chosen == null) {
            throw new NoTechniqueException(verdicts, lastFailure);
        }
        return new Selection(chosen, verdicts);
    }

    /** What the kernel offers for each ranked technique, without installing anything. */
    public List<Verdict> assess(KernelFeatures features) {
        return ranking.stream().map(t -> {
            String missing = missing(features, t);
            return missing.isEmpty()
                    ? new Verdict(t, Verdict.Outcome.NOT_TRIED, "available" + suffix(inconclusive(features, t)))
                    : new Verdict(t, Verdict.Outcome.SKIPPED, missing);
        }).toList();
    }

    /** The kernel features each technique needs. */
    public static Set<Feature> requirements(TechniqueId technique) {
        return switch (technique) {
            case REDIRECT -> EnumSet.of(Feature.NFTABLES, Feature.NFT_REDIRECT);
            case TPROXY -> EnumSet.of(Feature.NFTABLES, Feature.NFT_TPROXY, Feature.NFT_SOCKET, Feature.POLICY_ROUTING);
            // no nftables: tc's install removes Shunt's nft table when there is one, and needs none;
            // no bpffs: the agent mounts its own where it pins
            case TC -> EnumSet.of(Feature.BPF, Feature.BPF_SCHED_CLS, Feature.BPF_SK_LOOKUP, Feature.POLICY_ROUTING);
            // outbound by cgroup programs, inbound by tc's sk_lookup and ingress filter
            case SOCKMAP -> EnumSet.of(Feature.BPF, Feature.CGROUP_V2, Feature.BPF_CGROUP_SOCK_ADDR, Feature.BPF_SOCK_OPS,
                    Feature.BPF_SK_MSG, Feature.BPF_SOCKHASH, Feature.BPF_SCHED_CLS, Feature.BPF_SK_LOOKUP);
        };
    }

    private static String missing(KernelFeatures features, TechniqueId technique) {
        return requirements(technique).stream()
                .filter(f -> features.result(f) instanceof ProbeResult.Unsupported)
                .map(f -> f.id() + " unsupported (" + ((ProbeResult.Unsupported) features.result(f)).reason() + ")")
                .collect(Collectors.joining(", "));
    }

    private static String inconclusive(KernelFeatures features, TechniqueId technique) {
        return requirements(technique).stream()
                .filter(f -> features.result(f) instanceof ProbeResult.Inconclusive)
                .map(f -> "probe of " + f.id() + " was inconclusive")
                .collect(Collectors.joining(", "));
    }

    private static String suffix(String s) {
        return s.isEmpty() ? "" : " (" + s + ")";
    }
}
