package io.shunt.api.admin;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The agent's answer to one {@link AdminRequest}.
 *
 * @param ok     whether the command did what was asked
 * @param error  on failure, one line naming the problem and the input, e.g. {@code no pod "web"}
 * @param kind   on failure, what kind of problem, for scripts and exit codes
 * @param result on success, the command's result (one of the views of this package)
 */
public record AdminReply(int version, boolean ok, String error, ErrorKind kind, JsonNode result) {
    public enum ErrorKind {
        /** The request names a pod, connection or entry the agent does not have. */
        NOT_FOUND,
        /** The request itself is wrong: unknown command, a malformed argument. Nothing changed. */
        BAD_REQUEST,
        /** The agent tried and the kernel or the engine refused; what was there before is still in place. */
        FAILED,
        /** The agent is still taking back its pods. */
        NOT_READY
    }

    public static AdminReply success(JsonNode result) {
        return new AdminReply(AdminWire.VERSION, true, "", null, result);
    }

    public static AdminReply failure(ErrorKind kind, String error) {
        return new AdminReply(AdminWire.VERSION, false, error, kind, null);
    }
}
