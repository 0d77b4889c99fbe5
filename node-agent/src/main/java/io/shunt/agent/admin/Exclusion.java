package io.shunt.agent.admin;

import io.shunt.api.admin.AdminReply.ErrorKind;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import io.shunt.hijack.policy.SocketOwner;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * One entry of one of the policy's exclusion lists, as {@code shuntctl exclude} names it: an
 * outbound destination CIDR, an outbound destination port range, an inbound pod port range, or the
 * user or group that owns an outbound socket.
 *
 * @param entry the parsed entry
 * @param what  the list's name for messages, e.g. {@code outbound CIDR}
 * @param list  reads the list from a policy
 * @param with  a policy with the list replaced
 */
record Exclusion<T>(T entry, String what, Function<CapturePolicy, List<T>> list,
                    BiFunction<CapturePolicy, List<T>, CapturePolicy> with) {
    /** The kinds {@code shuntctl exclude} accepts, as the admin API spells them. */
    static final List<String> KINDS = List.of("cidr", "port", "inbound-port", "uid", "gid");

    static Exclusion<?> parse(String kind, String value) throws AdminException {
        try {
            return switch (kind) {
                case "cidr" -> new Exclusion<>(Cidr.parse(value), "outbound CIDR", CapturePolicy::excludeOutboundCidrs,
                        CapturePolicy::withExcludeOutboundCidrs);
                case "port" -> new Exclusion<>(PortRange.parse(value), "outbound port",
                        CapturePolicy::excludeOutboundPorts, CapturePolicy::withExcludeOutboundPorts);
                case "inbound-port" -> new Exclusion<>(PortRange.parse(value), "inbound port",
                        CapturePolicy::excludeInboundPorts, CapturePolicy::withExcludeInboundPorts);
                case "uid", "gid" -> new Exclusion<>(SocketOwner.parse(kind + ":" + value), "socket owner",
                        CapturePolicy::excludeOutboundOwners, CapturePolicy::withExcludeOutboundOwners);
                default -> throw new AdminException(ErrorKind.BAD_REQUEST, "unknown exclusion kind '" + kind
                        + "'; known: " + String.join(", ", KINDS));
            };
        } catch (IllegalArgumentException e) {
            throw new AdminException(ErrorKind.BAD_REQUEST, e.getMessage());
        }
    }

    /** The policy with the entry added; the same policy when it is there already. */
    CapturePolicy addTo(CapturePolicy policy) {
        List<T> entries = list.apply(policy);
        if (entries.contains(entry)) {
            return policy;
        }
        List<T> copy = new ArrayList<>(entries);
        copy.add(entry);
        return with.apply(policy, copy);
    }

    /** The policy without the entry, or the same policy when it is not there. */
    CapturePolicy removeFromIfPresent(CapturePolicy policy) {
        List<T> copy = new ArrayList<>(list.apply(policy));
        return copy.remove(entry) ? with.apply(policy, copy) : policy;
    }

    /** The policy without the entry; refused when it is not there, naming what is. */
    CapturePolicy removeFrom(CapturePolicy policy) throws AdminException {
        List<T> entries = list.apply(policy);
        if (!entries.contains(entry)) {
            throw new AdminException(ErrorKind.NOT_FOUND, entry + " is not an excluded " + what + "; excluded are: "
                    + (entries.isEmpty() ? "none" : entries.stream().map(Object::toString).toList()));
        }
        List<T> copy = new ArrayList<>(entries);
        copy.remove(entry);
        return with.apply(policy, copy);
    }
}
