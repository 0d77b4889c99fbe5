package io.shunt.k8s;

import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * What a pod asks of Shunt through its annotations. Every key is optional; a pod without any of
 * them gets {@link #DEFAULTS}: intercepted with the node's technique ranking and no exclusions.
 *
 * <table>
 *   <caption>Annotation keys</caption>
 *   <tr><th>key</th><th>value</th><th>example</th></tr>
 *   <tr><td>{@value #INTERCEPT}</td><td>{@code true} (default) or {@code false} to opt the pod out
 *       of interception</td><td>{@code "false"}</td></tr>
 *   <tr><td>{@value #TECHNIQUE}</td><td>a technique id; overrides the node's ranking for this pod
 *       </td><td>{@code "tproxy"}</td></tr>
 *   <tr><td>{@value #EXCLUDE_OUTBOUND_CIDRS}</td><td>comma-separated IPv4 CIDRs (a bare address is
 *       a /32) the pod reaches directly</td><td>{@code "10.96.0.0/12, 169.254.169.254"}</td></tr>
 *   <tr><td>{@value #EXCLUDE_OUTBOUND_PORTS}</td><td>comma-separated destination ports or ranges
 *       the pod reaches directly</td><td>{@code "22,9000-9100"}</td></tr>
 *   <tr><td>{@value #EXCLUDE_INBOUND_PORTS}</td><td>comma-separated local ports or ranges whose
 *       inbound connections are not intercepted</td><td>{@code "15020"}</td></tr>
 * </table>
 *
 * <p>Parsing never throws: a value that cannot be used becomes an {@link AnnotationProblem} and only
 * that annotation is ignored (its default applies), so one typo does not cost the pod its other
 * settings. An unusable {@value #INTERCEPT} therefore leaves the pod intercepted; the problem is
 * logged so the operator sees the opt-out did not take. A list with one bad entry is ignored whole,
 * because applying the rest would silently exclude less than the pod asked for.
 *
 * @param intercept            false when the pod opted out
 * @param technique            the technique the pod asked for; empty means the node's ranking
 * @param excludeOutboundCidrs destinations never diverted, in the order written
 * @param excludeOutboundPorts destination ports never diverted, in the order written
 * @param excludeInboundPorts  local ports whose inbound connections are never diverted
 */
public record ShuntAnnotations(
        boolean intercept,
        Optional<TechniqueId> technique,
        List<Cidr> excludeOutboundCidrs,
        List<PortRange> excludeOutboundPorts,
        List<PortRange> excludeInboundPorts) {

    public static final String PREFIX = "shunt.io/";
    public static final String INTERCEPT = PREFIX + "intercept";
    public static final String TECHNIQUE = PREFIX + "technique";
    public static final String EXCLUDE_OUTBOUND_CIDRS = PREFIX + "exclude-outbound-cidrs";
    public static final String EXCLUDE_OUTBOUND_PORTS = PREFIX + "exclude-outbound-ports";
    public static final String EXCLUDE_INBOUND_PORTS = PREFIX + "exclude-inbound-ports";

    /** A pod without Shunt annotations. */
    public static final ShuntAnnotations DEFAULTS =
            new ShuntAnnotations(true, Optional.empty(), List.of(), List.of(), List.of());

    public ShuntAnnotations {
        Objects.requireNonNull(technique, "technique");
        excludeOutboundCidrs = List.copyOf(excludeOutboundCidrs);
        excludeOutboundPorts = List.copyOf(excludeOutboundPorts);
        excludeInboundPorts = List.copyOf(excludeInboundPorts);
    }

    /**
     * The annotations as parsed and the ones that were ignored.
     *
     * @param annotations what applies to the pod
     * @param problems    one entry per ignored annotation, in key order of the table above
     */
    public record Parsed(ShuntAnnotations annotations, List<AnnotationProblem> problems) {
        public Parsed {
            Objects.requireNonNull(annotations, "annotations");
            problems = List.copyOf(problems);
        }
    }

    /**
     * Reads the Shunt keys out of a pod's annotations; other keys are not looked at.
     *
     * @param pod         {@code namespace/name}, only for the problems' messages
     * @param annotations the pod's annotations; null is the same as none
     */
    public static Parsed parse(String pod, Map<String, String> annotations) {
        Map<String, String> a = annotations == null ? Map.of() : annotations;
        List<AnnotationProblem> problems = new ArrayList<>();
        Reader r = new Reader(pod, a, problems);
        ShuntAnnotations parsed = new ShuntAnnotations(
                r.value(INTERCEPT, ShuntAnnotations::parseBoolean).orElse(DEFAULTS.intercept),
                r.value(TECHNIQUE, v -> TechniqueId.fromId(v.strip())),
                r.value(EXCLUDE_OUTBOUND_CIDRS, v -> list(v, Cidr::parse)).orElse(List.of()),
                r.value(EXCLUDE_OUTBOUND_PORTS, v -> list(v, PortRange::parse)).orElse(List.of()),
                r.value(EXCLUDE_INBOUND_PORTS, v -> list(v, PortRange::parse)).orElse(List.of()));
        return new Parsed(parsed, problems);
    }

    /**
     * One line for the log: {@code intercept=true technique=tproxy exclude-outbound-cidrs=[10.0.0.0/8]}.
     * Defaults are left out, so a plain pod reads {@code intercept=true}.
     */
    public String describe() {
        StringBuilder s = new StringBuilder("intercept=").append(intercept);
        technique.ifPresent(t -> s.append(" technique=").append(t.id()));
        appendList(s, EXCLUDE_OUTBOUND_CIDRS, excludeOutboundCidrs);
        appendList(s, EXCLUDE_OUTBOUND_PORTS, excludeOutboundPorts);
        appendList(s, EXCLUDE_INBOUND_PORTS, excludeInboundPorts);
        return s.toString();
    }

    /**
     * What differs from {@code before}, one {@code key: old -> new} per changed annotation, for the
     * log line of an update; empty when nothing differs.
     */
    List<String> changesSince(ShuntAnnotations before) {
        List<String> changes = new ArrayList<>();
        change(changes, INTERCEPT, before.intercept, intercept);
        change(changes, TECHNIQUE, before.technique.map(TechniqueId::id).orElse("(node ranking)"),
                technique.map(TechniqueId::id).orElse("(node ranking)"));
        change(changes, EXCLUDE_OUTBOUND_CIDRS, before.excludeOutboundCidrs, excludeOutboundCidrs);
        change(changes, EXCLUDE_OUTBOUND_PORTS, before.excludeOutboundPorts, excludeOutboundPorts);
        change(changes, EXCLUDE_INBOUND_PORTS, before.excludeInboundPorts, excludeInboundPorts);
        return changes;
    }

    private static void change(List<String> changes, String key, Object before, Object after) {
        if (!before.equals(after)) {
            changes.add(key.substring(PREFIX.length()) + ": " + before + " -> " + after);
        }
    }

    private static void appendList(StringBuilder s, String key, List<?> values) {
        if (!values.isEmpty()) {
            s.append(' ').append(key.substring(PREFIX.length())).append('=').append(values);
        }
    }

    private static boolean parseBoolean(String value) {
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("expected true or false");
        };
    }

    /**
     * Parses every comma-separated entry; if any fails, throws one exception naming all of them so
     * the operator fixes the value in one go. An empty value is an empty list; an empty entry
     * ({@code "22,,80"}) is an error because it is usually a deleted entry that was meant to stay.
     */
    private static <T> List<T> list(String value, Function<String, T> parseOne) {
        if (value.isBlank()) {
            return List.of();
        }
        String[] entries = value.split(",", -1);
        List<T> parsed = new ArrayList<>(entries.length);
        List<String> errors = new ArrayList<>();
        for (int i = 0; i < entries.length; i++) {
            if (entries[i].isBlank()) {
                errors.add("entry " + (i + 1) + " is empty");
                continue;
            }
            try {
                parsed.add(parseOne.apply(entries[i]));
            } catch (IllegalArgumentException e) {
                errors.add(e.getMessage());
            }
        }
        if (!errors.isEmpty()) {
            throw new IllegalArgumentException(String.join("; ", errors));
        }
        return parsed;
    }

    /** Looks keys up and turns a parser's IllegalArgumentException into a problem. */
    private record Reader(String pod, Map<String, String> annotations, List<AnnotationProblem> problems) {
        <T> Optional<T> value(String key, Function<String, T> parse) {
            String raw = annotations.get(key);
            if (raw == null) {
                return Optional.empty();
            }
            try {
                return Optional.of(parse.apply(raw));
            } catch (IllegalArgumentException e) {
                problems.add(new AnnotationProblem(pod, key, raw, e.getMessage()));
                return Optional.empty();
            }
        }
    }
}
