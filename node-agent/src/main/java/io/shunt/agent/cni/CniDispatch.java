package io.shunt.agent.cni;

import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniRequest.Command;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.regex.Pattern;

/**
 * Turns one decoded request into the handler's reply: checks what {@link CniHandler} is promised,
 * answers for a handler that is not ready, and turns a handler's exception into a CNI error.
 */
final class CniDispatch {
    private static final Logger LOG = LoggerFactory.getLogger(CniDispatch.class);
    static final String NOT_READY = "the shunt agent is starting: it has not finished reconciling its pods";
    /** CNI spec: a container id starts with a letter or digit, then letters, digits, {@code _ . -}. */
    private static final Pattern CONTAINER_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*");

    private CniDispatch() {
    }

    /** The reply to send; never null, never throws for anything the handler does. */
    static CniReply dispatch(CniHandler handler, CniRequest request) {
        CniReply invalid = validate(request);
        if (invalid != null) {
            return invalid;
        }
        try {
            if (!handler.ready()) {
                return notReady(request.command());
            }
            CniReply reply = switch (request.command()) {
                case ADD -> handler.add(request);
                case DEL -> handler.delete(request);
                case CHECK -> handler.check(request);
                case STATUS -> handler.status();
                case GC -> handler.gc(request);
            };
            return reply != null ? reply : CniReply.failure(CniReply.IO_FAILURE,
                    "the shunt agent gave no answer to " + request.command() + " " + CniLog.describe(request),
                    "its CNI handler returned null; this is a bug in the agent");
        } catch (RuntimeException e) {
            LOG.warn("CNI {} {}: the handler threw", request.command(), CniLog.describe(request), e);
            return handlerFailed(request, e);
        }
    }

    /** DEL is gated too: the plugin decides what a DEL that the agent cannot serve yet means. */
    static CniReply notReady(Command command) {
        if (command == Command.STATUS) {
            return CniReply.failure(CniReply.PLUGIN_NOT_AVAILABLE, NOT_READY,
                    "pods created now would fail their sandbox; the agent reports ready once its pods are reconciled");
        }
        return CniReply.failure(CniReply.TRY_AGAIN_LATER, NOT_READY,
                "nothing was changed for this " + command + "; the runtime retries it");
    }

    static CniReply handlerFailed(CniRequest request, Throwable e) {
        String message = e.getMessage() == null || e.getMessage().isBlank() ? e.getClass().getName() : e.getMessage();
        StringBuilder details = new StringBuilder("the shunt agent failed on ")
                .append(request.command()).append(' ').append(CniLog.describe(request)).append(": ").append(e);
        for (Throwable cause = e.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            details.append("; caused by ").append(cause);
        }
        return CniReply.failure(CniReply.IO_FAILURE, message, details.toString());
    }

    /** The request's fault, reported before the handler sees it; null when it is well formed. */
    private static CniReply validate(CniRequest request) {
        Command command = request.command();
        if (command == Command.STATUS || command == Command.GC) {
            return null;
        }
        String id = request.containerId();
        if (id.isEmpty()) {
            return CniReply.failure(CniReply.INVALID_ENVIRONMENT, "CNI_CONTAINERID is missing",
                    command + " needs the container id the runtime passed in CNI_CONTAINERID");
        }
        if (!CONTAINER_ID.matcher(id).matches()) {
            return CniReply.failure(CniReply.INVALID_ENVIRONMENT, "CNI_CONTAINERID is not a valid container id",
                    "'" + CniLog.printable(id) + "' must start with a letter or digit and hold only letters, digits, '_', '.', '-'");
        }
        if (command == Command.DEL) {
            return null;
        }
        if (request.netns().isEmpty() || !request.netns().startsWith("/")) {
            return CniReply.failure(CniReply.INVALID_ENVIRONMENT,
                    request.netns().isEmpty() ? "CNI_NETNS is missing" : "CNI_NETNS is not an absolute path",
                    command + " of container " + CniLog.shortId(id) + " needs the path of its network namespace"
                            + (request.netns().isEmpty() ? "" : ", got '" + CniLog.printable(request.netns()) + "'"));
        }
        return null;
    }
}
