package io.shunt.hijack.select;

import java.io.IOException;
import java.util.List;
import java.util.stream.Collectors;

/** No ranked technique could be installed; each verdict says why. Nothing was left installed. */
public final class NoTechniqueException extends IOException {
    private final List<Verdict> verdicts;

    NoTechniqueException(List<Verdict> verdicts, Throwable lastFailure) {
        super("no interception technique could be installed: "
                + verdicts.stream().map(Verdict::toString).collect(Collectors.joining("; ")), lastFailure);
        this.verdicts = List.copyOf(verdicts);
    }

    public List<Verdict> verdicts() {
        return verdicts;
    }
}
