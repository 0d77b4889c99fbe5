package io.shunt.hijack.policy;

/**
 * The owner of the socket that opens an outbound connection: a user id or a group id. Excluding
 * one lets a process of the pod talk past the proxy, e.g. an application's own sidecar-aware
 * client, or a tool that must reach the network directly. Only outbound: an incoming packet has
 * no local socket owner yet when it is diverted.
 */
public record SocketOwner(Kind kind, long id) {
    public enum Kind {
        UID("uid", "meta skuid"), GID("gid", "meta skgid");

        private final String prefix;
        private final String nftMatch;

        Kind(String prefix, String nftMatch) {
            this.prefix = prefix;
            this.nftMatch = nftMatch;
        }

        public String prefix() {
            return prefix;
        }

        /** The nftables expression matching the owner of a locally generated packet's socket. */
        public String nftMatch() {
            return nftMatch;
        }
    }

    public SocketOwner {
        if (id < 0 || id > 0xfffffffeL) {
            throw new IllegalArgumentException(kind.prefix + " " + id + " is out of range 0..4294967294");
        }
    }

    public static SocketOwner uid(long id) {
        return new SocketOwner(Kind.UID, id);
    }

    public static SocketOwner gid(long id) {
        return new SocketOwner(Kind.GID, id);
    }

    /** {@code uid:1337} or {@code gid:1337}. */
    public static SocketOwner parse(String text) {
        int colon = text.indexOf(':');
        String kind = colon < 0 ? "" : text.substring(0, colon);
        String bad = "socket owner '" + text + "' is not uid:N or gid:N, e.g. uid:1337";
        long id;
        try {
            id = Long.parseLong(text.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(bad);
        }
        return switch (kind) {
            case "uid" -> uid(id);
            case "gid" -> gid(id);
            default -> throw new IllegalArgumentException(bad);
        };
    }

    @Override
    public String toString() {
        return kind.prefix + ":" + id;
    }
}
