package io.shunt.api.cni;

/**
 * The agent's answer to one {@link CniRequest}. On failure, {@code code} is the CNI spec's error
 * code the plugin reports (e.g. 11 "try again later"), {@code msg} a one-line summary and
 * {@code details} the full reason.
 *
 * @param technique the interception technique now installed (ADD, CHECK), or empty (also for a
 *                  pod the agent skips on purpose; {@code msg} then says why)
 */
public record CniReply(boolean ok, int code, String msg, String details, String technique) {
    /** CNI spec error codes the agent uses. */
    public static final int CONTAINER_UNKNOWN = 3;
    public static final int INVALID_ENVIRONMENT = 4;
    public static final int IO_FAILURE = 5;
    public static final int DECODING_FAILURE = 6;
    public static final int TRY_AGAIN_LATER = 11;
    /** STATUS: the plugin cannot serve ADDs now (CNI 1.1). */
    public static final int PLUGIN_NOT_AVAILABLE = 50;
    /** Codes 100 and up are the plugin's own; this one means interception could not be installed. */
    public static final int INTERCEPTION_FAILED = 100;
    /** CHECK found the pod's interception missing or different from what the agent installed. */
    public static final int CHECK_FAILED = 101;

    public CniReply {
        msg = msg == null ? "" : msg;
        details = details == null ? "" : details;
        technique = technique == null ? "" : technique;
    }

    public static CniReply success(String technique) {
        return new CniReply(true, 0, "", "", technique);
    }

    /** Success for a pod the agent leaves un-intercepted on purpose, e.g. an opted-out namespace. */
    public static CniReply skipped(String reason) {
        return new CniReply(true, 0, reason, "", "");
    }

    public static CniReply failure(int code, String msg, String details) {
        return new CniReply(false, code, msg, details, "");
    }
}
