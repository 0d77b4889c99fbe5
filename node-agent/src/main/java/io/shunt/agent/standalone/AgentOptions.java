package io.shunt.agent.standalone;

import io.shunt.agent.AgentConfig;
import io.shunt.agent.OptOut;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import io.shunt.hijack.policy.SocketOwner;
import io.shunt.hijack.probe.Feature;
import io.shunt.hijack.select.Selector;
import io.shunt.proxy.ConnectionLimits;
import io.shunt.proxy.EngineConfig;
import io.shunt.proxy.Transport;
import picocli.CommandLine.Option;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/** The agent's settings as command-line options; turned into an {@link AgentConfig} in one place. */
final class AgentOptions {
    /** Selector.DEFAULT_RANKING as text, for --help (annotations need a constant; a test keeps them equal). */
    static final String AUTO_RANKING = "tc,tproxy,redirect";

    @Option(names = "--technique", defaultValue = "auto", paramLabel = "auto|NAME[,NAME...]",
            description = {"Techniques to try for each pod, best first; the first that the kernel supports and that "
                    + "installs wins. auto = " + AUTO_RANKING + ". Known: ${COMPLETION-CANDIDATES}. "
                    + "Default: ${DEFAULT-VALUE}."},
            completionCandidates = TechniqueNames.class)
    String technique;

    @Option(names = "--assume-missing", split = ",", paramLabel = "FEATURE",
            description = "Treat these kernel features as absent (e.g. tproxy), to see the fallback an older kernel "
                    + "would get. Repeatable or comma-separated.")
    List<String> assumeMissing = new ArrayList<>();

    @Option(names = "--pod-technique", paramLabel = "POD=NAME",
            description = "Pin one pod to a technique, overriding the ranking (no fallback for that pod). Repeatable.")
    List<String> podTechniques = new ArrayList<>();

    @Option(names = "--include-cidr", split = ",", paramLabel = "CIDR",
            description = "Capture outbound traffic only to these destinations (default: all). Repeatable or comma-separated.")
    List<String> includeCidrs = new ArrayList<>();

    @Option(names = "--exclude-cidr", split = ",", paramLabel = "CIDR",
            description = "Outbound destinations that bypass the proxy, e.g. 10.96.0.1/32. Repeatable or comma-separated.")
    List<String> excludeCidrs = new ArrayList<>();

    @Option(names = "--exclude-port", split = ",", paramLabel = "PORT[-PORT]",
            description = "Outbound destination ports that bypass the proxy, e.g. 22 or 9000-9100. Repeatable or comma-separated.")
    List<String> excludePorts = new ArrayList<>();

    @Option(names = "--exclude-uid", split = ",", paramLabel = "UID",
            description = "Outbound connections from sockets of these users bypass the proxy. Repeatable or comma-separated.")
    List<Long> excludeUids = new ArrayList<>();

    @Option(names = "--exclude-gid", split = ",", paramLabel = "GID",
            description = "Outbound connections from sockets of these groups bypass the proxy. Repeatable or comma-separated.")
    List<Long> excludeGids = new ArrayList<>();

    @Option(names = "--exclude-inbound-port", split = ",", paramLabel = "PORT[-PORT]",
            description = "Pod ports whose inbound connections bypass the proxy. Repeatable or comma-separated.")
    List<String> excludeInboundPorts = new ArrayList<>();

    @Option(names = "--no-inbound", description = "Do not capture inbound connections at all.")
    boolean noInbound;

    @Option(names = "--outbound-port", defaultValue = "15001", paramLabel = "PORT",
            description = "Outbound listener port inside each pod. Default: ${DEFAULT-VALUE}.")
    int outboundPort;

    @Option(names = "--inbound-port", defaultValue = "15006", paramLabel = "PORT",
            description = "Inbound listener port inside each pod. Default: ${DEFAULT-VALUE}.")
    int inboundPort;

    @Option(names = "--bypass-mark", defaultValue = "0x5348", paramLabel = "MARK",
            description = "SO_MARK on the proxy's own sockets so they are never captured again. Default: ${DEFAULT-VALUE}.")
    String bypassMark;

    @Option(names = "--transport", defaultValue = "auto", paramLabel = "NAME",
            description = "Netty transport: auto (io_uring, else epoll, else nio), io_uring, epoll or nio. Default: ${DEFAULT-VALUE}.")
    String transport;

    @Option(names = "--connect-timeout", defaultValue = "10s", paramLabel = "DURATION",
            description = "Upstream connect timeout, e.g. 500ms, 10s. Default: ${DEFAULT-VALUE}.")
    String connectTimeout;

    @Option(names = "--idle-timeout", defaultValue = "1h", paramLabel = "DURATION",
            description = "Close connections idle this long, e.g. 30s, 5m, 1h. Default: ${DEFAULT-VALUE}.")
    String idleTimeout;

    @Option(names = "--skip-namespace", split = ",", paramLabel = "NAMESPACE",
            description = "Leave pods of these Kubernetes namespaces un-intercepted when the runtime adds them "
                    + "(e.g. kube-system). Repeatable or comma-separated.")
    List<String> skipNamespaces = new ArrayList<>();

    @Option(names = "--skip-pod", split = ",", paramLabel = "NAMESPACE/NAME",
            description = "Leave these pods un-intercepted when the runtime adds them. Repeatable or comma-separated.")
    List<String> skipPods = new ArrayList<>();

    @Option(names = "--max-connections-per-pod", defaultValue = "10000", paramLabel = "N",
            description = "Open connections one pod may have through the proxy; more are reset at once and counted "
                    + "(metric shunt_connections_shed_total). Default: ${DEFAULT-VALUE}.")
    int maxConnectionsPerPod;

    @Option(names = "--max-connections", defaultValue = "50000", paramLabel = "N",
            description = "Open connections of all pods together; more are reset at once and counted. "
                    + "Default: ${DEFAULT-VALUE}.")
    int maxConnections;

    @Option(names = "--accept-backlog", defaultValue = "1024", paramLabel = "N",
            description = "listen(2) backlog of every pod listener. Default: ${DEFAULT-VALUE}.")
    int acceptBacklog;

    @Option(names = "--log-connections", description = "Log one line per finished connection.")
    boolean logConnections;

    AgentConfig toConfig() {
        List<TechniqueId> ranking = technique.equals("auto") ? Selector.DEFAULT_RANKING
                : Arrays.stream(technique.split(",")).map(String::strip).map(TechniqueId::fromId).toList();
        Set<Feature> masked = assumeMissing.stream().map(Feature::fromId).collect(Collectors.toSet());
        CapturePolicy defaults = CapturePolicy.defaults();
        CapturePolicy policy = new CapturePolicy(outboundPort, inboundPort, parseMark(bypassMark),
                parseAll(includeCidrs, Cidr::parse), parseAll(excludeCidrs, Cidr::parse),
                parseAll(excludePorts, PortRange::parse), parseAll(excludeInboundPorts, PortRange::parse),
                !noInbound && defaults.captureInbound(), owners());
        EngineConfig engine = EngineConfig.defaults(transport.equals("auto") ? null : Transport.byId(transport))
                .withConnectTimeout(parseDuration("--connect-timeout", connectTimeout))
                .withIdleTimeout(parseDuration("--idle-timeout", idleTimeout))
                .withAcceptBacklog(acceptBacklog)
                .withLimits(new ConnectionLimits(maxConnectionsPerPod, maxConnections));
        return new AgentConfig(ranking, masked, policy, engine, logConnections);
    }

    private List<SocketOwner> owners() {
        List<SocketOwner> owners = new ArrayList<>();
        excludeUids.forEach(id -> owners.add(SocketOwner.uid(id)));
        excludeGids.forEach(id -> owners.add(SocketOwner.gid(id)));
        return owners;
    }

    OptOut optOut() {
        return new OptOut(Set.copyOf(skipNamespaces), Set.copyOf(skipPods));
    }

    /** The pods' pinned techniques, by pod name, from --pod-technique. */
    Map<String, TechniqueId> pinnedTechniques() {
        Map<String, TechniqueId> pinned = new LinkedHashMap<>();
        for (String entry : podTechniques) {
            int eq = entry.indexOf('=');
            if (eq <= 0 || eq == entry.length() - 1) {
                throw new IllegalArgumentException("--pod-technique '" + entry + "' is not POD=TECHNIQUE, e.g. web=redirect");
            }
            if (pinned.put(entry.substring(0, eq), TechniqueId.fromId(entry.substring(eq + 1))) != null) {
                throw new IllegalArgumentException("--pod-technique names pod " + entry.substring(0, eq) + " twice");
            }
        }
        return pinned;
    }

    private static <T> List<T> parseAll(List<String> values, Function<String, T> parser) {
        return values.stream().map(parser).collect(Collectors.toList());
    }

    static int parseMark(String text) {
        try {
            long mark = text.startsWith("0x") || text.startsWith("0X") ? Long.parseLong(text.substring(2), 16)
                    : Long.parseLong(text);
            if (mark <= 0 || mark > 0xffffffffL) {
                throw new NumberFormatException();
            }
            return (int) mark;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--bypass-mark '" + text + "' is not a non-zero 32-bit number like 0x5348");
        }
    }

    /** {@code 127.0.0.1:15090} or {@code [::1]:15090}, literal addresses only. */
    static InetSocketAddress parseHostPort(String option, String text) {
        String bad = option + " '" + text + "' is not ADDRESS:PORT with a literal address, e.g. 127.0.0.1:15090";
        int colon = text.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException(bad);
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        try {
            int port = Integer.parseInt(text.substring(colon + 1));
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException(option + " port " + port + " is out of range 1..65535");
            }
            return new InetSocketAddress(java.net.InetAddress.ofLiteral(host), port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(bad);
        } catch (IllegalArgumentException e) {
            throw e.getMessage() != null && e.getMessage().startsWith(option) ? e : new IllegalArgumentException(bad);
        }
    }

    static Duration parseDuration(String option, String text) {
        var m = java.util.regex.Pattern.compile("(\\d+)(ms|s|m|h)").matcher(text);
        String notADuration = option + " '" + text + "' is not a positive duration like 500ms, 30s, 5m or 1h";
        if (!m.matches()) {
            throw new IllegalArgumentException(notADuration);
        }
        long n;
        Duration d;
        try {
            n = Long.parseLong(m.group(1));
            d = switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                default -> Duration.ofHours(n);
            };
        } catch (ArithmeticException | NumberFormatException e) {
            throw new IllegalArgumentException(option + " '" + text + "' is too large to be a duration");
        }
        if (n == 0) {
            throw new IllegalArgumentException(notADuration);
        }
        return d;
    }

    /** The technique ids, for --help and shell completion. */
    static final class TechniqueNames extends ArrayList<String> {
        TechniqueNames() {
            super(Arrays.stream(TechniqueId.values()).map(TechniqueId::id).toList());
        }
    }
}
