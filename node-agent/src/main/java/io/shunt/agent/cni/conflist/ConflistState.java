package io.shunt.agent.cni.conflist;

import java.nio.file.Path;
import java.util.Optional;

/**
 * What one look at the CNI configuration directory found, or did.
 *
 * @param file   the primary network configuration, once there is one
 * @param detail why, for the log: the parse error, what was rewritten
 */
public record ConflistState(Kind kind, Optional<Path> file, String detail) {
    public enum Kind {
        /** Shunt was added to the chain just now (first install, or after another component rewrote the file). */
        CHAINED,
        /** Shunt is in the chain already; nothing was written. */
        PRESENT,
        /** No network configuration in the directory yet: the primary CNI has not installed itself. */
        NO_PRIMARY,
        /** The primary configuration cannot be read (perhaps half-written); it was left untouched. */
        INVALID
    }

    static ConflistState chained(Path file, String detail) {
        return new ConflistState(Kind.CHAINED, Optional.of(file), detail);
    }

    static ConflistState present(Path file) {
        return new ConflistState(Kind.PRESENT, Optional.of(file), "");
    }

    static ConflistState noPrimary(Path dir) {
        return new ConflistState(Kind.NO_PRIMARY, Optional.empty(), "no *.conflist, *.conf or *.json in " + dir);
    }

    static ConflistState invalid(Path file, String detail) {
        return new ConflistState(Kind.INVALID, Optional.of(file), detail);
    }
}
