package io.shunt.agent.cni;

import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;

/** How requests and replies appear in the agent's log and in error texts: one line, no control characters. */
final class CniLog {
    private static final int MAX_FIELD = 253;

    private CniLog() {
    }

    /** The first 12 characters of a container id, as runtimes print it; "-" when absent. */
    static String shortId(String containerId) {
        if (containerId.isEmpty()) {
            return "-";
        }
        return printable(containerId.length() > 12 ? containerId.substring(0, 12) : containerId);
    }

    /** "namespace/name", "name", or "-" when the runtime passed no pod. */
    static String pod(CniRequest request) {
        String ns = request.podNamespace();
        String name = request.podName();
        if (ns.isEmpty() && name.isEmpty()) {
            return "-";
        }
        return printable(ns.isEmpty() ? name : ns + "/" + name);
    }

    /** "container 0123456789ab (pod default/web-1)", for error texts. */
    static String describe(CniRequest request) {
        String pod = pod(request);
        return "container " + shortId(request.containerId()) + (pod.equals("-") ? "" : " (pod " + pod + ")");
    }

    /** "ok technique=redirect" or "failed code=11: the shunt agent is starting...". */
    static String outcome(CniReply reply) {
        if (reply.ok()) {
            return reply.technique().isEmpty() ? "ok" : "ok technique=" + printable(reply.technique());
        }
        return "failed code=" + reply.code() + ": " + printable(reply.msg());
    }

    /** Text from a peer, safe for a log line: control characters escaped, bounded length. */
    static String printable(String text) {
        StringBuilder out = new StringBuilder(Math.min(text.length(), MAX_FIELD) + 8);
        for (int i = 0; i < text.length(); i++) {
            if (out.length() >= MAX_FIELD) {
                return out.append("...").toString();
            }
            char c = text.charAt(i);
            if (Character.isISOControl(c)) {
                out.append(String.format("\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
