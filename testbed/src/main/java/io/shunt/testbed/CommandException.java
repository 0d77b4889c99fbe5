package io.shunt.testbed;

import java.io.IOException;
import java.util.List;

/**
 * A command the testbed ran (usually {@code ip ...}) failed or did not finish in time. The message
 * carries the whole command line, the exit status, its stderr and a hint on what to do next.
 */
public final class CommandException extends IOException {
    private final List<String> command;
    private final int exitStatus;
    private final String stderr;

    CommandException(List<String> command, int exitStatus, String stderr, String hint) {
        super("`" + String.join(" ", command) + "` "
                + (exitStatus == TIMED_OUT ? "did not finish in time and was killed" : "failed with exit status " + exitStatus)
                + (stderr.isBlank() ? "" : ": " + stderr.strip())
                + (hint.isEmpty() ? "" : " — " + hint));
        this.command = List.copyOf(command);
        this.exitStatus = exitStatus;
        this.stderr = stderr;
    }

    /** The exit status reported when the command was killed at its timeout. */
    public static final int TIMED_OUT = -1;

    public List<String> command() {
        return command;
    }

    /** The process's exit status, or {@link #TIMED_OUT}. */
    public int exitStatus() {
        return exitStatus;
    }

    public String stderr() {
        return stderr;
    }
}
