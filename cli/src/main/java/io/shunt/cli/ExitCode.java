package io.shunt.cli;

import io.shunt.api.admin.AdminReply.ErrorKind;

/** shuntctl's exit codes: scripts rely on them, so they never change meaning. */
public final class ExitCode {
    public static final int OK = 0;
    /** The agent tried and failed; what was there before is still in place. */
    public static final int FAILED = 1;
    /** Bad command line or bad argument value; nothing was changed. */
    public static final int USAGE = 2;
    /** A pod or entry the command names does not exist. */
    public static final int NOT_FOUND = 3;
    /** No agent answers on the admin socket. */
    public static final int AGENT_UNREACHABLE = 4;
    /** The agent is still starting (taking back its pods), or handing them over to a successor. */
    public static final int NOT_READY = 5;
    /** uninstall --verify found something of Shunt's left behind. */
    public static final int NOT_CLEAN = 6;

    private ExitCode() {
    }

    static int of(ErrorKind kind) {
        return switch (kind) {
            case NOT_FOUND -> NOT_FOUND;
            case BAD_REQUEST -> USAGE;
            case NOT_READY -> NOT_READY;
            case FAILED -> FAILED;
        };
    }
}
