package io.shunt.hijack;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.Decision;
import io.shunt.hijack.policy.PortRange;
import io.shunt.hijack.policy.SocketOwner;
import io.shunt.hijack.probe.Feature;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The policy's parsers take text from config files, command lines, pod annotations and the admin
 * API: each returns a value, whose text parses back to the same value, or throws an
 * {@link IllegalArgumentException} with a message; nothing else. {@link CapturePolicy#decideOutbound}
 * decides any IPv4 or IPv6 destination and port 1..65535 without throwing, in line with its lists.
 *
 * <p>An input is {@code KIND\nVALUE}: KIND is {@code cidr}, {@code ports}, {@code owner},
 * {@code technique}, {@code feature} or {@code decide}. For {@code decide} the value is binary: a
 * family byte (even: IPv4), the address's 4 or 16 bytes, two port bytes, then policy lines
 * {@code include|exclude|port CIDR-or-PORTS}. Seeds and findings:
 * {@code PolicyInputsFuzzTestInputs/parsesOrSaysWhyAndDecidesAnyDestination/}.
 */
class PolicyInputsFuzzTest {

    @FuzzTest(maxDuration = "5s")
    void parsesOrSaysWhyAndDecidesAnyDestination(byte[] input) {
        int newline = indexOf(input, (byte) '\n');
        if (newline < 0) {
            return;
        }
        String kind = new String(input, 0, newline, StandardCharsets.UTF_8);
        byte[] value = Arrays.copyOfRange(input, newline + 1, input.length);
        String text = new String(value, StandardCharsets.UTF_8);
        switch (kind) {
            case "cidr" -> parses(text, Cidr::parse, Cidr::toString);
            case "ports" -> parses(text, PortRange::parse, PortRange::toString)
                    .ifPresent(r -> assertTrue(1 <= r.lo() && r.lo() <= r.hi() && r.hi() <= 65535, r::toString));
            case "owner" -> parses(text, SocketOwner::parse, SocketOwner::toString);
            case "technique" -> parses(text, TechniqueId::fromId, TechniqueId::id);
            case "feature" -> parses(text, Feature::fromId, Feature::id);
            case "decide" -> decides(value);
            default -> {
                // not one of ours: nothing to check
            }
        }
    }

    /** The value or a message; a parsed value's text is canonical: it parses to the same value. */
    private static <T> Optional<T> parses(String text, Function<String, T> parse, Function<T, String> canonical) {
        T value;
        try {
            value = parse.apply(text);
        } catch (IllegalArgumentException refused) {
            assertNotNull(refused.getMessage(), () -> "refused '" + text + "' without a message");
            assertFalse(refused.getMessage().isBlank(), () -> "refused '" + text + "' with a blank message");
            return Optional.empty();
        }
        assertNotNull(value, () -> "parsed '" + text + "' to null");
        String written = canonical.apply(value);
        assertEquals(value, parse.apply(written), () -> "'" + text + "' is shown as " + written + ", which parses differently");
        return Optional.of(value);
    }

    private static void decides(byte[] value) {
        if (value.length < 1) {
            return;
        }
        int length = (value[0] & 1) == 0 ? 4 : 16;
        if (value.length < 1 + length + 2) {
            return;
        }
        InetAddress destination;
        try {
            destination = InetAddress.getByAddress(Arrays.copyOfRange(value, 1, 1 + length));
        } catch (UnknownHostException e) {
            throw new AssertionError("4 or 16 bytes are always an address", e);
        }
        int port = ((value[1 + length] & 0xff) << 8 | (value[2 + length] & 0xff)) % 65535 + 1;
        CapturePolicy policy = policy(new String(value, 3 + length, value.length - 3 - length, StandardCharsets.UTF_8));

        Decision decision = policy.decideOutbound(destination, port);
        assertNotNull(decision);
        assertNotNull(decision.explain());
        assertEquals(decision.captured(), decision.reason() == Decision.Reason.CAPTURED, decision::explain);
        if (!(destination instanceof Inet4Address)) {
            assertEquals(Decision.Reason.NOT_IPV4, decision.reason(), decision::explain);
        }
        if (decision.captured()) {
            assertTrue(policy.excludeOutboundCidrs().stream().noneMatch(c -> c.contains(destination)),
                    decision::explain);
            assertTrue(policy.excludeOutboundPorts().stream().noneMatch(r -> r.contains(port)), decision::explain);
            assertTrue(policy.includeOutboundCidrs().isEmpty()
                    || policy.includeOutboundCidrs().stream().anyMatch(c -> c.contains(destination)),
                    decision::explain);
        }
        // the pod's own address never leaves the pod
        Decision own = policy.decideOutbound(destination, port, Set.of(destination));
        assertFalse(own.captured(), own::explain);
    }

    /** A policy from lines {@code include CIDR}, {@code exclude CIDR}, {@code port PORTS}; other lines are skipped. */
    private static CapturePolicy policy(String lines) {
        List<Cidr> include = new ArrayList<>();
        List<Cidr> exclude = new ArrayList<>();
        List<PortRange> ports = new ArrayList<>();
        for (String line : lines.split("\n")) {
            int space = line.indexOf(' ');
            if (space < 0) {
                continue;
            }
            String entry = line.substring(space + 1);
            try {
                switch (line.substring(0, space)) {
                    case "include" -> include.add(Cidr.parse(entry));
                    case "exclude" -> exclude.add(Cidr.parse(entry));
                    case "port" -> ports.add(PortRange.parse(entry));
                    default -> {
                        // not a policy line
                    }
                }
            } catch (IllegalArgumentException e) {
                // an entry the parsers refuse is checked above; the policy just goes without it
            }
        }
        return CapturePolicy.defaults().withIncludeOutboundCidrs(include).withExcludeOutboundCidrs(exclude)
                .withExcludeOutboundPorts(ports);
    }

    private static int indexOf(byte[] bytes, byte b) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return -1;
    }
}
