package io.shunt.cli;

/** A command that cannot be done; the message is the one line shuntctl prints. */
final class CliException extends Exception {
    private final int exitCode;

    CliException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }
}
