package io.shunt.agent.admin;

import io.shunt.api.admin.AdminReply.ErrorKind;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import io.shunt.hijack.policy.SocketOwner;

import java.util.ArrayList;
import java.util.List;

/**
 * One entry of the policy's exclusion lists, as {@code shuntctl exclude} names it: an outbound
 * destination CIDR, an outbound destination port range, or an inbound pod port range.
 */
sealed interface Exclusion {
    /** The kinds {@code shuntctl exclude} accepts, as the admin API spells them. */
    List<String> KINDS = List.of("cidr", "port", "inbound-port", "uid", "gid");

    CapturePolicy addTo(CapturePolicy policy) throws AdminException;

    CapturePolicy removeFrom(CapturePolicy policy) throws AdminException;

    static Exclusion parse(String kind, String value) throws AdminException {
        try {
            return switch (kind) {
                case "cidr" -> new OutboundCidr(Cidr.parse(value));
                case "port" -> new OutboundPort(PortRange.parse(value));
                case "inbound-port" -> new InboundPort(PortRange.parse(value));
                case "uid", "gid" -> new Owner(SocketOwner.parse(kind + ":" + value));
                default -> throw new AdminException(ErrorKind.BAD_REQUEST, "unknown exclusion kind '" + kind
                        + "'; known: " + String.join(", ", KINDS));
            };
        } catch (IllegalArgumentException e) {
            throw new AdminException(ErrorKind.BAD_REQUEST, e.getMessage());
        }
    }

    record OutboundCidr(Cidr cidr) implements Exclusion {
        @Override
        public CapturePolicy addTo(CapturePolicy policy) {
            return policy.withExcludeOutboundCidrs(added(policy.excludeOutboundCidrs(), cidr));
        }

        @Override
        public CapturePolicy removeFrom(CapturePolicy policy) throws AdminException {
            return policy.withExcludeOutboundCidrs(removed(policy.excludeOutboundCidrs(), cidr, "outbound CIDR"));
        }
    }

    record OutboundPort(PortRange ports) implements Exclusion {
        @Override
        public CapturePolicy addTo(CapturePolicy policy) {
            return policy.withExcludeOutboundPorts(added(policy.excludeOutboundPorts(), ports));
        }

        @Override
        public CapturePolicy removeFrom(CapturePolicy policy) throws AdminException {
            return policy.withExcludeOutboundPorts(removed(policy.excludeOutboundPorts(), ports, "outbound port"));
        }
    }

    record InboundPort(PortRange ports) implements Exclusion {
        @Override
        public CapturePolicy addTo(CapturePolicy policy) {
            return policy.withExcludeInboundPorts(added(policy.excludeInboundPorts(), ports));
        }

        @Override
        public CapturePolicy removeFrom(CapturePolicy policy) throws AdminException {
            return policy.withExcludeInboundPorts(removed(policy.excludeInboundPorts(), ports, "inbound port"));
        }
    }

    record Owner(SocketOwner owner) implements Exclusion {
        @Override
        public CapturePolicy addTo(CapturePolicy policy) {
            return policy.withExcludeOutboundOwners(added(policy.excludeOutboundOwners(), owner));
        }

        @Override
        public CapturePolicy removeFrom(CapturePolicy policy) throws AdminException {
            return policy.withExcludeOutboundOwners(removed(policy.excludeOutboundOwners(), owner, "socket owner"));
        }
    }

    private static <T> List<T> added(List<T> list, T entry) {
        if (list.contains(entry)) {
            return list;
        }
        List<T> copy = new ArrayList<>(list);
        copy.add(entry);
        return copy;
    }

    private static <T> List<T> removed(List<T> list, T entry, String what) throws AdminException {
        if (!list.contains(entry)) {
            throw new AdminException(ErrorKind.NOT_FOUND, entry + " is not an excluded " + what + "; excluded are: "
                    + (list.isEmpty() ? "none" : list.stream().map(Object::toString).toList()));
        }
        List<T> copy = new ArrayList<>(list);
        copy.remove(entry);
        return copy;
    }
}
