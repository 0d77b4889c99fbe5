package io.shunt.hijack.select;

import io.shunt.hijack.TechniqueId;

import java.util.List;
import java.util.stream.Collectors;

/** The technique chosen for a pod, and why each of the others was not. */
public record Selection(TechniqueId chosen, List<Verdict> verdicts) {
    public Selection {
        verdicts = List.copyOf(verdicts);
    }

    /** One line, best-ranked first: {@code tproxy: failed, ...; redirect: chosen}. */
    public String describe() {
        return verdicts.stream().map(Verdict::toString).collect(Collectors.joining("; "));
    }
}
