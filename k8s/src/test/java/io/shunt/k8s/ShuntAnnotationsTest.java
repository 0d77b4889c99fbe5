package io.shunt.k8s;

import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static io.shunt.k8s.ShuntAnnotations.EXCLUDE_INBOUND_PORTS;
import static io.shunt.k8s.ShuntAnnotations.EXCLUDE_OUTBOUND_CIDRS;
import static io.shunt.k8s.ShuntAnnotations.EXCLUDE_OUTBOUND_PORTS;
import static io.shunt.k8s.ShuntAnnotations.INTERCEPT;
import static io.shunt.k8s.ShuntAnnotations.TECHNIQUE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShuntAnnotationsTest {
    private static final String POD = "shop/web-1";

    @Test
    void aPodWithoutShuntAnnotationsGetsTheDefaults() {
        assertEquals(new ShuntAnnotations.Parsed(ShuntAnnotations.DEFAULTS, List.of()),
                ShuntAnnotations.parse(POD, Map.of("kubectl.kubernetes.io/restartedAt", "2026-01-01T00:00:00Z")));
        assertEquals(new ShuntAnnotations.Parsed(ShuntAnnotations.DEFAULTS, List.of()),
                ShuntAnnotations.parse(POD, null));
        assertTrue(ShuntAnnotations.DEFAULTS.intercept());
    }

    @ParameterizedTest
    @CsvSource({"false, false", "' FALSE ', false", "true, true", "True, true"})
    void interceptOptsOutOnlyOnFalse(String value, boolean intercept) {
        ShuntAnnotations.Parsed parsed = ShuntAnnotations.parse(POD, Map.of(INTERCEPT, value));
        assertEquals(intercept, parsed.annotations().intercept());
        assertEquals(List.of(), parsed.problems());
    }

    @Test
    void techniqueOverridesTheNodeRanking() {
        assertEquals(Optional.of(TechniqueId.TPROXY),
                ShuntAnnotations.parse(POD, Map.of(TECHNIQUE, "tproxy")).annotations().technique());
        assertEquals(Optional.of(TechniqueId.REDIRECT),
                ShuntAnnotations.parse(POD, Map.of(TECHNIQUE, " redirect")).annotations().technique());
    }

    @Test
    void exclusionsAreParsedExactlyInTheOrderWritten() {
        ShuntAnnotations.Parsed parsed = ShuntAnnotations.parse(POD, Map.of(
                EXCLUDE_OUTBOUND_CIDRS, "10.96.0.0/12, 169.254.169.254",
                EXCLUDE_OUTBOUND_PORTS, "22,9000-9100",
                EXCLUDE_INBOUND_PORTS, " 15020 , 15090"));

        assertEquals(List.of(), parsed.problems());
        assertEquals(new ShuntAnnotations(true, Optional.empty(),
                        List.of(Cidr.parse("10.96.0.0/12"), Cidr.parse("169.254.169.254/32")),
                        List.of(PortRange.of(22), new PortRange(9000, 9100)),
                        List.of(PortRange.of(15020), PortRange.of(15090))),
                parsed.annotations());
    }

    @Test
    void anEmptyListExcludesNothing() {
        ShuntAnnotations.Parsed parsed = ShuntAnnotations.parse(POD, Map.of(EXCLUDE_OUTBOUND_PORTS, ""));
        assertEquals(ShuntAnnotations.DEFAULTS, parsed.annotations());
        assertEquals(List.of(), parsed.problems());
    }

    @ParameterizedTest(name = "{0}=''{1}''")
    @CsvSource(delimiter = '|', value = {
            "shunt.io/intercept              | no                 | expected true or false",
            "shunt.io/technique              | xdp                | unknown technique 'xdp'; known techniques: redirect, tproxy, tc, sockmap",
            "shunt.io/technique              | ''                 | unknown technique ''",
            "shunt.io/exclude-outbound-cidrs | 10.0.0.1/8         | 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?",
            "shunt.io/exclude-outbound-cidrs | fd00::/8           | IPv6 CIDR 'fd00::/8'",
            "shunt.io/exclude-outbound-ports | 22;80              | invalid port range '22;80'",
            "shunt.io/exclude-outbound-ports | 0                  | port 0 is out of range 1..65535",
            "shunt.io/exclude-inbound-ports  | 9100-9000          | starts above its end; did you mean 9000-9100?",
            "shunt.io/exclude-inbound-ports  | 22,,80             | entry 2 is empty",
    })
    void aBadValueIsReportedWithKeyValueAndReason_andOnlyThatAnnotationIsIgnored(
            String key, String value, String reason) {
        Map<String, String> annotations = new HashMap<>(Map.of(
                INTERCEPT, "false",
                TECHNIQUE, "tproxy",
                EXCLUDE_OUTBOUND_CIDRS, "10.96.0.0/12",
                EXCLUDE_OUTBOUND_PORTS, "22",
                EXCLUDE_INBOUND_PORTS, "15020"));
        annotations.put(key, value);

        ShuntAnnotations.Parsed parsed = ShuntAnnotations.parse(POD, annotations);

        assertEquals(1, parsed.problems().size(), () -> "problems: " + parsed.problems());
        AnnotationProblem problem = parsed.problems().getFirst();
        assertEquals(POD, problem.pod());
        assertEquals(key, problem.key());
        assertEquals(value, problem.value());
        assertTrue(problem.reason().contains(reason), () -> "reason '" + problem.reason() + "' lacks '" + reason + "'");
        assertTrue(problem.message().startsWith("pod " + POD + ": annotation " + key + "='" + value + "' ignored: "),
                problem::message);

        // the bad one falls back to its default, every other annotation still applies
        ShuntAnnotations expected = new ShuntAnnotations(
                key.equals(INTERCEPT), // the default, true, replaces the ignored value
                key.equals(TECHNIQUE) ? Optional.empty() : Optional.of(TechniqueId.TPROXY),
                key.equals(EXCLUDE_OUTBOUND_CIDRS) ? List.of() : List.of(Cidr.parse("10.96.0.0/12")),
                key.equals(EXCLUDE_OUTBOUND_PORTS) ? List.of() : List.of(PortRange.of(22)),
                key.equals(EXCLUDE_INBOUND_PORTS) ? List.of() : List.of(PortRange.of(15020)));
        assertEquals(expected, parsed.annotations());
    }

    @Test
    void aListWithBadEntriesIsIgnoredWhole_andEveryBadEntryIsNamed() {
        ShuntAnnotations.Parsed parsed = ShuntAnnotations.parse(POD, Map.of(
                EXCLUDE_OUTBOUND_PORTS, "22,x,70000,9000-9100",
                TECHNIQUE, "xdp",
                EXCLUDE_INBOUND_PORTS, "15020"));

        assertEquals(List.of(TECHNIQUE, EXCLUDE_OUTBOUND_PORTS),
                parsed.problems().stream().map(AnnotationProblem::key).toList());
        String reason = parsed.problems().get(1).reason();
        assertTrue(reason.contains("'x'") && reason.contains("70000"), reason);
        assertEquals(List.of(), parsed.annotations().excludeOutboundPorts());
        assertEquals(List.of(PortRange.of(15020)), parsed.annotations().excludeInboundPorts());
    }

    @Test
    void describeLeavesDefaultsOut_andChangesNameWhatDiffers() {
        ShuntAnnotations plain = ShuntAnnotations.DEFAULTS;
        ShuntAnnotations tuned = ShuntAnnotations.parse(POD, Map.of(
                TECHNIQUE, "tproxy", EXCLUDE_OUTBOUND_PORTS, "22")).annotations();

        assertEquals("intercept=true", plain.describe());
        assertEquals("intercept=true technique=tproxy exclude-outbound-ports=[22]", tuned.describe());
        assertEquals(List.of("technique: (node ranking) -> tproxy", "exclude-outbound-ports: [] -> [22]"),
                tuned.changesSince(plain));
        assertEquals(List.of(), tuned.changesSince(tuned));
    }
}
