package io.shunt.hijack.policy;

import java.net.Inet4Address;
import java.net.InetAddress;

/**
 * An IPv4 network: address and prefix length, with no host bits set. Shunt diverts IPv4 only for
 * now, so an IPv6 CIDR is refused at parse time rather than silently never matching.
 *
 * @param network      the network address as a big-endian int (10.0.0.0 is {@code 0x0a000000})
 * @param prefixLength 0..32
 */
public record Cidr(int network, int prefixLength) {

    public Cidr {
        if (prefixLength < 0 || prefixLength > 32) {
            throw new IllegalArgumentException("CIDR prefix length " + prefixLength + " is out of range 0..32");
        }
        if ((network & ~mask(prefixLength)) != 0) {
            String given = dotted(network) + "/" + prefixLength;
            throw new IllegalArgumentException(given + " has host bits set; did you mean "
                    + dotted(network & mask(prefixLength)) + "/" + prefixLength + "?");
        }
    }

    /**
     * Parses {@code "10.0.0.0/8"} or a bare address {@code "1.2.3.4"} (taken as /32). Surrounding
     * whitespace is ignored, so comma-separated config lists can be split naively.
     *
     * @throws IllegalArgumentException naming the input and what is wrong with it
     */
    public static Cidr parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("CIDR must not be null");
        }
        String s = text.strip();
        if (s.indexOf(':') >= 0) {
            throw new IllegalArgumentException("IPv6 CIDR '" + s + "': Shunt captures IPv4 only for now; "
                    + "remove it from the list (IPv6 traffic is never diverted)");
        }
        int slash = s.indexOf('/');
        String address = slash < 0 ? s : s.substring(0, slash);
        int prefix = 32;
        if (slash >= 0) {
            String p = s.substring(slash + 1);
            if (!isDigits(p, 2)) {
                throw new IllegalArgumentException("invalid CIDR '" + s + "': prefix length '" + p
                        + "' is not a number 0..32");
            }
            prefix = Integer.parseInt(p);
            if (prefix > 32) {
                throw new IllegalArgumentException("invalid CIDR '" + s + "': prefix length " + prefix
                        + " is out of range 0..32");
            }
        }
        int network = parseAddress(s, address);
        if ((network & ~mask(prefix)) != 0) {
            throw new IllegalArgumentException(s + " has host bits set; did you mean "
                    + dotted(network & mask(prefix)) + "/" + prefix + "?");
        }
        return new Cidr(network, prefix);
    }

    /** True when {@code address} is IPv4 and inside this network; IPv6 addresses are never inside. */
    public boolean contains(InetAddress address) {
        if (!(address instanceof Inet4Address v4)) {
            return false;
        }
        byte[] b = v4.getAddress();
        int a = (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
        return (a & mask(prefixLength)) == network;
    }

    /** Canonical form, always with the prefix: {@code 1.2.3.4/32}. */
    @Override
    public String toString() {
        return dotted(network) + "/" + prefixLength;
    }

    private static int mask(int prefix) {
        // a shift by 32 is a shift by 0 in Java, hence the special case
        return prefix == 0 ? 0 : -1 << (32 - prefix);
    }

    private static int parseAddress(String input, String address) {
        String[] octets = address.split("\\.", -1);
        if (octets.length != 4) {
            throw notAnAddress(input, address);
        }
        int value = 0;
        for (String o : octets) {
            if (!isDigits(o, 3)) {
                throw notAnAddress(input, address);
            }
            if (o.length() > 1 && o.charAt(0) == '0') {
                // inet_aton reads 010 as octal 8; refuse rather than guess which one was meant
                throw new IllegalArgumentException("invalid CIDR '" + input + "': octet '" + o
                        + "' has a leading zero, which some tools read as octal; write it without");
            }
            int n = Integer.parseInt(o);
            if (n > 255) {
                throw new IllegalArgumentException("invalid CIDR '" + input + "': octet " + n
                        + " is out of range 0..255");
            }
            value = value << 8 | n;
        }
        return value;
    }

    private static IllegalArgumentException notAnAddress(String input, String address) {
        return new IllegalArgumentException("invalid CIDR '" + input + "': '" + address
                + "' is not an IPv4 address (expected a.b.c.d or a.b.c.d/n)");
    }

    private static boolean isDigits(String s, int maxLength) {
        if (s.isEmpty() || s.length() > maxLength) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    private static String dotted(int a) {
        return (a >>> 24) + "." + (a >>> 16 & 0xff) + "." + (a >>> 8 & 0xff) + "." + (a & 0xff);
    }
}
