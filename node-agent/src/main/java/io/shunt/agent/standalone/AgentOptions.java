package io.shunt.agent.standalone;

import io.shunt.agent.AgentConfig;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import io.shunt.proxy.EngineConfig;
import io.shunt.proxy.Transport;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Collectors;

/** The agent's settings as command-line options; turned into an {@link AgentConfig} in one place. */
final class AgentOptions {
    @Option(names = "--technique", defaultValue = "redirect", paramLabel = "NAME",
            description = "Interception technique. Available: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}.",
            completionCandidates = TechniqueNames.class)
    String technique;

    @Option(names = "--include-cidr", split = ",", paramLabel = "CIDR",
            description = "Capture outbound traffic only to these destinations (default: all). Repeatable or comma-separated.")
    List<String> includeCidrs = new ArrayList<>();

    @Option(names = "--exclude-cidr", split = ",", paramLabel = "CIDR",
            description = "Outbound destinations that bypass the proxy, e.g. 10.96.0.1/32. Repeatable or comma-separated.")
    List<String> excludeCidrs = new ArrayList<>();

    @Option(names = "--exclude-port", split = ",", paramLabel = "PORT[-PORT]",
            description = "Outbound destination ports that bypass the proxy, e.g. 22 or 9000-9100. Repeatable or comma-separated.")
    List<String> excludePorts = new ArrayList<>();

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

    @Option(names = "--log-connections", description = "Log one line per finished connection.")
    boolean logConnections;

    AgentConfig toConfig() {
        TechniqueId techniqueId = TechniqueId.fromId(technique);
        CapturePolicy defaults = CapturePolicy.defaults();
        CapturePolicy policy = new CapturePolicy(outboundPort, inboundPort, parseMark(bypassMark),
                parseAll(includeCidrs, Cidr::parse), parseAll(excludeCidrs, Cidr::parse),
                parseAll(excludePorts, PortRange::parse), parseAll(excludeInboundPorts, PortRange::parse),
                !noInbound && defaults.captureInbound());
        EngineConfig engine = EngineConfig.defaults(transport.equals("auto") ? null : Transport.byId(transport))
                .withConnectTimeout(parseDuration("--connect-timeout", connectTimeout))
                .withIdleTimeout(parseDuration("--idle-timeout", idleTimeout));
        return new AgentConfig(techniqueId, policy, engine, logConnections);
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
