package io.shunt.k8s;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A pod's annotations are written by whoever may create pods: {@link ShuntAnnotations#parse} never
 * throws, and every value it cannot use is one problem naming the pod, the key, the value as
 * written and a reason, while that annotation falls back to its default and the others still apply.
 *
 * <p>An input is lines {@code KEY=VALUE}; a key without {@code /} is a Shunt key
 * ({@code technique=tproxy} is {@code shunt.io/technique=tproxy}). Seeds and findings:
 * {@code ShuntAnnotationsFuzzTestInputs/neverThrowsAndListsWhatItIgnored/}.
 */
class ShuntAnnotationsFuzzTest {
    private static final String POD = "fuzz/pod-1";
    private static final List<String> KEYS = List.of(ShuntAnnotations.INTERCEPT, ShuntAnnotations.TECHNIQUE,
            ShuntAnnotations.EXCLUDE_OUTBOUND_CIDRS, ShuntAnnotations.EXCLUDE_OUTBOUND_PORTS,
            ShuntAnnotations.EXCLUDE_INBOUND_PORTS);

    @FuzzTest(maxDuration = "5s")
    void neverThrowsAndListsWhatItIgnored(byte[] input) {
        Map<String, String> annotations = annotations(new String(input, StandardCharsets.UTF_8));

        ShuntAnnotations.Parsed parsed = ShuntAnnotations.parse(POD, annotations);

        assertNotNull(parsed);
        ShuntAnnotations result = parsed.annotations();
        Set<String> ignored = new HashSet<>();
        for (AnnotationProblem problem : parsed.problems()) {
            assertEquals(POD, problem.pod());
            assertTrue(KEYS.contains(problem.key()), () -> "a problem with a key Shunt does not read: " + problem);
            assertTrue(ignored.add(problem.key()), () -> "two problems for one key: " + parsed.problems());
            assertEquals(annotations.get(problem.key()), problem.value(), "the value as written on the pod");
            assertFalse(problem.reason().isBlank(), () -> "a problem without a reason: " + problem);
        }
        // an ignored annotation leaves its default
        ShuntAnnotations defaults = ShuntAnnotations.DEFAULTS;
        if (ignored.contains(ShuntAnnotations.INTERCEPT) || !annotations.containsKey(ShuntAnnotations.INTERCEPT)) {
            assertEquals(defaults.intercept(), result.intercept());
        }
        if (ignored.contains(ShuntAnnotations.TECHNIQUE) || !annotations.containsKey(ShuntAnnotations.TECHNIQUE)) {
            assertEquals(defaults.technique(), result.technique());
        } else {
            assertEquals(annotations.get(ShuntAnnotations.TECHNIQUE).strip(), result.technique().orElseThrow().id());
        }
        if (ignored.contains(ShuntAnnotations.EXCLUDE_OUTBOUND_CIDRS)) {
            assertEquals(List.of(), result.excludeOutboundCidrs());
        }
        if (ignored.contains(ShuntAnnotations.EXCLUDE_OUTBOUND_PORTS)) {
            assertEquals(List.of(), result.excludeOutboundPorts());
        }
        if (ignored.contains(ShuntAnnotations.EXCLUDE_INBOUND_PORTS)) {
            assertEquals(List.of(), result.excludeInboundPorts());
        }
        assertNotNull(result.describe());
        assertNotNull(result.changesSince(defaults));
        parsed.problems().forEach(p -> assertNotNull(p.message()));
    }

    private static Map<String, String> annotations(String text) {
        Map<String, String> annotations = new LinkedHashMap<>();
        for (String line : text.split("\n", -1)) {
            int eq = line.indexOf('=');
            if (eq < 0) {
                continue;
            }
            String key = line.substring(0, eq);
            annotations.put(key.contains("/") ? key : ShuntAnnotations.PREFIX + key, line.substring(eq + 1));
        }
        return annotations;
    }
}
