package io.shunt.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniRequest.Command;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The chained CNI plugin: parse what the runtime passed, forward it to the agent with a timeout,
 * turn every failure into the spec's error object. It holds no pod state; the agent decides.
 *
 * <p>Outcomes per command (CNI 0.4.0, 1.0.0 and 1.1.0):
 * <ul>
 * <li>ADD: prevResult echoed on success; agent down or slow → 11 (try again later), so a pod never
 *     starts without interception; the agent's own code when it refuses.</li>
 * <li>DEL: idempotent. Success when the agent does not know the container, and when the agent is not
 *     running at all (it drops pods whose network namespace is gone when it starts).</li>
 * <li>CHECK: the agent's verdict; agent down → 11.</li>
 * <li>STATUS: agent down or not ready → 50 (plugin not available).</li>
 * <li>GC: forwards the runtime's valid container ids; agent down → success, nothing to collect.</li>
 * <li>VERSION: the supported versions, without contacting the agent.</li>
 * </ul>
 * Errors go to stdout as {@code {"cniVersion","code","msg","details"}} with exit status 1, and as one
 * line to stderr for the runtime's log.
 */
public final class CniPlugin {
    /** Codes from 100 up are Shunt's own; this one marks a bug in the plugin itself. */
    public static final int PLUGIN_FAILED = 999;
    static final String CHAINED_ONLY = "shunt-cni is a chained plugin: put it after the plugin that creates the interface";

    private CniPlugin() {
    }

    /** Runs one CNI command; returns the process exit status. Nothing but the result or the error reaches stdout. */
    public static int run(Map<String, String> env, InputStream stdin, PrintStream stdout, PrintStream stderr) {
        String commandName = env.getOrDefault("CNI_COMMAND", "");
        String errorVersion = CniVersions.PREFERRED;
        try {
            if (commandName.isEmpty()) {
                throw new CniError(CniError.INVALID_ENVIRONMENT, "CNI_COMMAND is not set: expected ADD, DEL, CHECK,"
                        + " VERSION, STATUS or GC", "shunt-cni is a CNI plugin; a container runtime runs it");
            }
            byte[] input = readAll(stdin);
            if (commandName.equals("VERSION")) {
                stdout.println(version(input));
                return 0;
            }
            ObjectNode json = null;
            CniError undecodable = null;
            try {
                json = Json.parseObject(input);
                errorVersion = PluginConfig.versionForErrors(json);
            } catch (CniError e) {
                undecodable = e;
            }
            Command command = command(commandName);
            if (undecodable != null) {
                throw undecodable;
            }
            PluginConfig config = PluginConfig.from(json);
            errorVersion = config.cniVersion();
            if ((command == Command.STATUS || command == Command.GC)
                    && !CniVersions.atLeast(config.cniVersion(), CniVersions.STATUS_AND_GC_SINCE)) {
                throw new CniError(CniError.INCOMPATIBLE_VERSION, "cniVersion " + config.cniVersion() + " has no "
                        + command + "; it exists from " + CniVersions.STATUS_AND_GC_SINCE + " on");
            }
            AgentClient agent = new AgentClient(config.agentSocket(), config.timeout());
            Optional<String> result = switch (command) {
                case ADD -> add(env, config, agent);
                case DEL -> del(env, config, agent, stderr);
                case CHECK -> check(env, config, agent);
                case STATUS -> status(agent);
                case GC -> gc(config, agent, stderr);
            };
            result.ifPresent(stdout::println);
            return 0;
        } catch (CniError e) {
            return fail(stdout, stderr, errorVersion, commandName, env, e);
        } catch (RuntimeException e) {
            return fail(stdout, stderr, errorVersion, commandName, env, new CniError(PLUGIN_FAILED,
                    "shunt-cni failed unexpectedly: " + e, stackTrace(e)));
        } finally {
            stdout.flush();
            stderr.flush();
        }
    }

    private static Optional<String> add(Map<String, String> env, PluginConfig config, AgentClient agent) throws CniError {
        Container c = Container.of(env, Command.ADD, true);
        ObjectNode prevResult = config.prevResult().orElseThrow(() -> new CniError(CniError.INVALID_CONFIG,
                CHAINED_ONLY, "the ADD configuration of network \"" + config.name() + "\" has no prevResult"));
        CniArgs args = CniArgs.parse(env.get("CNI_ARGS"));
        CniReply reply = call(agent, c.request(Command.ADD, args, config.prevResultIps()).withNetwork(config.name()), c.describe(args));
        if (!reply.ok()) {
            throw refused(reply, "ADD", c.describe(args));
        }
        // The result is prevResult itself, in the configuration's version as the spec requires.
        prevResult.put("cniVersion", config.cniVersion());
        return Optional.of(Json.write(prevResult));
    }

    private static Optional<String> del(Map<String, String> env, PluginConfig config, AgentClient agent,
                                        PrintStream stderr) throws CniError {
        Container c = Container.of(env, Command.DEL, false);
        CniArgs args;
        try {
            args = CniArgs.parse(env.get("CNI_ARGS"));
        } catch (CniError e) {
            // DEL must not get stuck on decoration: the agent finds the pod by its container id.
            stderr.println("shunt-cni: DEL " + c.describe(CniArgs.NONE) + ": ignoring CNI_ARGS: " + e.msg());
            args = CniArgs.NONE;
        }
        CniReply reply;
        try {
            reply = agent.call(c.request(Command.DEL, args, config.prevResultIps()).withNetwork(config.name()));
        } catch (AgentClient.AgentException e) {
            if (e.failure() != AgentClient.Failure.NOT_RUNNING) {
                throw unreachable(e, "DEL of " + c.describe(args));
            }
            stderr.println("shunt-cni: DEL " + c.describe(args) + ": " + e.getMessage() + "; nothing to undo now:"
                    + " the agent removes pods whose network namespace is gone when it starts");
            return Optional.empty();
        }
        if (!reply.ok() && reply.code() != CniReply.CONTAINER_UNKNOWN) {
            throw refused(reply, "DEL", c.describe(args));
        }
        return Optional.empty();
    }

    private static Optional<String> check(Map<String, String> env, PluginConfig config, AgentClient agent) throws CniError {
        Container c = Container.of(env, Command.CHECK, true);
        if (config.prevResult().isEmpty()) {
            throw new CniError(CniError.INVALID_CONFIG, CHAINED_ONLY, "the CHECK configuration of network \""
                    + config.name() + "\" has no prevResult");
        }
        CniArgs args = CniArgs.parse(env.get("CNI_ARGS"));
        CniReply reply = call(agent, c.request(Command.CHECK, args, config.prevResultIps()).withNetwork(config.name()), c.describe(args));
        if (!reply.ok()) {
            throw refused(reply, "CHECK", c.describe(args));
        }
        return Optional.empty();
    }

    private static Optional<String> status(AgentClient agent) throws CniError {
        CniReply reply;
        try {
            reply = agent.call(new CniRequest(Command.STATUS, "", "", "", "", "", "", List.of(), List.of()));
        } catch (AgentClient.AgentException e) {
            throw new CniError(CniError.PLUGIN_NOT_AVAILABLE, "shunt-cni is not available: " + e.getMessage(),
                    "pods cannot be added until the shunt agent answers on " + agent.socket());
        }
        if (!reply.ok()) {
            int code = reply.code() == CniError.PLUGIN_LIMITED ? CniError.PLUGIN_LIMITED : CniError.PLUGIN_NOT_AVAILABLE;
            throw new CniError(code, "shunt-cni is not available: " + (reply.msg().isEmpty()
                    ? "the shunt agent is not ready (code " + reply.code() + ")" : reply.msg()), reply.details());
        }
        return Optional.empty();
    }

    private static Optional<String> gc(PluginConfig config, AgentClient agent, PrintStream stderr) throws CniError {
        // Without the list every pod would look stale: refuse rather than forward an empty one.
        List<String> valid = config.validContainerIds().orElseThrow(() -> new CniError(CniError.INVALID_CONFIG,
                "GC needs " + PluginConfig.VALID_ATTACHMENTS + " in the configuration of network \"" + config.name()
                        + "\"", "without the list of valid attachments every pod would look stale"));
        CniReply reply;
        try {
            reply = agent.call(new CniRequest(Command.GC, "", "", "", "", "", "", List.of(), valid, config.name()));
        } catch (AgentClient.AgentException e) {
            if (e.failure() != AgentClient.Failure.NOT_RUNNING) {
                throw unreachable(e, "GC of network \"" + config.name() + "\"");
            }
            stderr.println("shunt-cni: GC of network \"" + config.name() + "\": " + e.getMessage()
                    + "; nothing to collect without it");
            return Optional.empty();
        }
        if (!reply.ok()) {
            throw refused(reply, "GC", "network \"" + config.name() + "\"");
        }
        return Optional.empty();
    }

    private static CniReply call(AgentClient agent, CniRequest request, String what) throws CniError {
        try {
            return agent.call(request);
        } catch (AgentClient.AgentException e) {
            throw unreachable(e, request.command() + " of " + what);
        }
    }

    /** The agent did not answer: the runtime should retry, and must not start the pod meanwhile. */
    private static CniError unreachable(AgentClient.AgentException e, String what) {
        Throwable cause = e.getCause();
        return new CniError(CniError.TRY_AGAIN_LATER, e.getMessage(), what + " waits for the shunt agent; the"
                + " runtime should retry" + (cause == null ? "" : " (cause: " + cause + ")"));
    }

    private static CniError refused(CniReply reply, String command, String what) {
        int code = reply.code() > 0 ? reply.code() : PLUGIN_FAILED;
        String msg = reply.msg().isEmpty() ? "the shunt agent refused " + command + " of " + what + " without a reason"
                : reply.msg();
        return new CniError(code, msg, reply.details());
    }

    private static Command command(String name) throws CniError {
        return switch (name) {
            case "ADD" -> Command.ADD;
            case "DEL" -> Command.DEL;
            case "CHECK" -> Command.CHECK;
            case "STATUS" -> Command.STATUS;
            case "GC" -> Command.GC;
            default -> throw new CniError(CniError.INVALID_ENVIRONMENT, "unknown CNI_COMMAND \"" + name
                    + "\": expected ADD, DEL, CHECK, VERSION, STATUS or GC");
        };
    }

    /** VERSION's answer, in the requested version when we speak it. Never fails. */
    private static String version(byte[] input) {
        String requested = CniVersions.PREFERRED;
        try {
            JsonNode asked = Json.parseObject(input).get("cniVersion");
            if (asked != null && CniVersions.supported(asked.asText())) {
                requested = asked.asText();
            }
        } catch (CniError e) {
            // VERSION needs no configuration; an empty or odd stdin gets our preferred version.
        }
        ObjectNode out = Json.MAPPER.createObjectNode();
        out.put("cniVersion", requested);
        CniVersions.SUPPORTED.forEach(out.putArray("supportedVersions")::add);
        return Json.write(out);
    }

    private static int fail(PrintStream stdout, PrintStream stderr, String version, String command,
                            Map<String, String> env, CniError e) {
        ObjectNode error = Json.MAPPER.createObjectNode();
        error.put("cniVersion", version);
        error.put("code", e.code());
        error.put("msg", e.msg());
        error.put("details", e.details());
        stdout.println(Json.write(error));
        String container = env.getOrDefault("CNI_CONTAINERID", "");
        stderr.println("shunt-cni: " + (command.isEmpty() ? "(no CNI_COMMAND)" : command)
                + (container.isEmpty() ? "" : " container " + container) + ": error " + e.code() + ": " + e.msg()
                + (e.details().isEmpty() ? "" : " (" + e.details() + ")"));
        return 1;
    }

    private static byte[] readAll(InputStream stdin) throws CniError {
        try {
            return stdin.readAllBytes();
        } catch (IOException e) {
            throw new CniError(CniError.DECODING_FAILURE, "could not read the network configuration from stdin: "
                    + e.getMessage());
        }
    }

    private static String stackTrace(Throwable e) {
        var out = new java.io.StringWriter();
        e.printStackTrace(new java.io.PrintWriter(out));
        return out.toString();
    }

    /** The container a per-container command is about, from the CNI_* environment. */
    private record Container(String id, String netns, String ifName) {
        static Container of(Map<String, String> env, Command command, boolean needsNetns) throws CniError {
            List<String> names = needsNetns ? List.of("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME")
                    : List.of("CNI_CONTAINERID", "CNI_IFNAME");
            List<String> missing = new ArrayList<>();
            for (String name : names) {
                if (env.getOrDefault(name, "").isBlank()) {
                    missing.add(name);
                }
            }
            if (!missing.isEmpty()) {
                throw new CniError(CniError.INVALID_ENVIRONMENT, (missing.size() == 1
                        ? "required environment variable " + missing.getFirst() + " is not set"
                        : "required environment variables " + String.join(", ", missing) + " are not set")
                        + " for " + command, command + " needs " + String.join(", ", names));
            }
            return new Container(env.get("CNI_CONTAINERID"), env.getOrDefault("CNI_NETNS", ""), env.get("CNI_IFNAME"));
        }

        CniRequest request(Command command, CniArgs args, List<String> ips) {
            return CniRequest.forContainer(command, id, netns, ifName, args.podNamespace(), args.podName(),
                    args.podUid(), ips);
        }

        String describe(CniArgs args) {
            String pod = args.describe();
            return "container " + id + (pod.isEmpty() ? "" : " (pod " + pod + ")");
        }
    }
}
