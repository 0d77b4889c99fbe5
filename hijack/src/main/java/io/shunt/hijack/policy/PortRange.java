package io.shunt.hijack.policy;

/**
 * An inclusive range of TCP ports, 1..65535. A single port is a range with {@code lo == hi}.
 */
public record PortRange(int lo, int hi) {
    private static final String EXPECTED = "expected a port (80) or a range (8000-8100) of numbers 1..65535";

    public PortRange {
        checkPort(lo, lo == hi ? String.valueOf(lo) : lo + "-" + hi);
        checkPort(hi, lo == hi ? String.valueOf(hi) : lo + "-" + hi);
        if (lo > hi) {
            throw new IllegalArgumentException("port range " + lo + "-" + hi + " starts above its end; did you mean "
                    + hi + "-" + lo + "?");
        }
    }

    /** One port. */
    public static PortRange of(int port) {
        return new PortRange(port, port);
    }

    /**
     * Parses {@code "80"} or {@code "8000-8100"}; surrounding whitespace is ignored.
     *
     * @throws IllegalArgumentException naming the input and what is wrong with it
     */
    public static PortRange parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("port range must not be null; " + EXPECTED);
        }
        String s = text.strip();
        int dash = s.indexOf('-');
        if (dash < 0) {
            int port = number(s, s);
            checkPort(port, s);
            return new PortRange(port, port);
        }
        int lo = number(s, s.substring(0, dash));
        int hi = number(s, s.substring(dash + 1));
        checkPort(lo, s);
        checkPort(hi, s);
        return new PortRange(lo, hi);
    }

    public boolean contains(int port) {
        return port >= lo && port <= hi;
    }

    /** {@code "80"} or {@code "8000-8100"}, which is also how nft writes it. */
    @Override
    public String toString() {
        return lo == hi ? String.valueOf(lo) : lo + "-" + hi;
    }

    private static int number(String input, String part) {
        if (part.isEmpty()) {
            throw new IllegalArgumentException("invalid port range '" + input + "': " + EXPECTED);
        }
        for (int i = 0; i < part.length(); i++) {
            if (part.charAt(i) < '0' || part.charAt(i) > '9') {
                throw new IllegalArgumentException("invalid port range '" + input + "': " + EXPECTED);
            }
        }
        // more than five digits cannot be a port; avoid int overflow on absurdly long input
        return part.length() > 5 ? Integer.MAX_VALUE : Integer.parseInt(part);
    }

    private static void checkPort(int port, String input) {
        if (port < 1 || port > 65535) {
            String shown = port == Integer.MAX_VALUE ? "" : " " + port;
            throw new IllegalArgumentException("invalid port range '" + input + "': port" + shown
                    + " is out of range 1..65535");
        }
    }
}
