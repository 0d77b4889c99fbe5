package io.shunt.cni;

/**
 * A failure the plugin reports to the runtime as the CNI spec's error object: a well-known code
 * (below 100) or one of Shunt's own (100 and up, see {@link io.shunt.api.cni.CniReply}), a one-line
 * message that names the problem and the input, and optional details.
 */
public final class CniError extends Exception {
    /** The config's cniVersion is missing or not one the plugin speaks. */
    public static final int INCOMPATIBLE_VERSION = 1;
    /** A required environment variable is missing or malformed, or CNI_COMMAND is unknown. */
    public static final int INVALID_ENVIRONMENT = 4;
    /** stdin is not a JSON object. */
    public static final int DECODING_FAILURE = 6;
    /** The network configuration is valid JSON but not a usable configuration. */
    public static final int INVALID_CONFIG = 7;
    /** Transient: the runtime should retry (the agent is down, busy or slow). */
    public static final int TRY_AGAIN_LATER = 11;
    /** STATUS: the plugin cannot serve ADDs now. */
    public static final int PLUGIN_NOT_AVAILABLE = 50;
    /** STATUS: the plugin can serve ADDs, but the pods get limited connectivity. */
    public static final int PLUGIN_LIMITED = 51;

    private final int code;
    private final String details;

    public CniError(int code, String msg, String details) {
        super(msg);
        this.code = code;
        this.details = details == null ? "" : details;
    }

    public CniError(int code, String msg) {
        this(code, msg, "");
    }

    public int code() {
        return code;
    }

    public String msg() {
        return getMessage();
    }

    public String details() {
        return details;
    }
}
