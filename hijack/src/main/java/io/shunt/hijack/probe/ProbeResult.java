package io.shunt.hijack.probe;

import java.util.Objects;

/**
 * What probing one {@link Feature} found. A probe that could not decide (no permission to try,
 * a library missing, a check not written yet) is {@link Inconclusive}, never {@link Supported}.
 */
public sealed interface ProbeResult {

    /** {@code supported}, {@code unsupported} or {@code inconclusive}. */
    String label();

    /** The detail, reason or cause: what was tried and what the kernel said. */
    String text();

    /** The kernel did what the probe tried; {@code detail} says what that was. */
    record Supported(String detail) implements ProbeResult {
        public Supported {
            Objects.requireNonNull(detail, "detail");
        }

        @Override
        public String label() {
            return "supported";
        }

        @Override
        public String text() {
            return detail;
        }
    }

    /** The kernel refused what the probe tried; {@code reason} keeps its answer (errno, nft's error). */
    record Unsupported(String reason) implements ProbeResult {
        public Unsupported {
            Objects.requireNonNull(reason, "reason");
        }

        @Override
        public String label() {
            return "unsupported";
        }

        @Override
        public String text() {
            return reason;
        }
    }

    /** The probe could not decide, e.g. EPERM; {@code cause} says why and, where known, what to do. */
    record Inconclusive(String cause) implements ProbeResult {
        public Inconclusive {
            Objects.requireNonNull(cause, "cause");
        }

        @Override
        public String label() {
            return "inconclusive";
        }

        @Override
        public String text() {
            return cause;
        }
    }
}
