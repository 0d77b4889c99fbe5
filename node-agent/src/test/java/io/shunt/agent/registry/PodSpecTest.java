package io.shunt.agent.registry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PodSpecTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "web-1=/var/run/netns/web-1         | web-1         | /var/run/netns/web-1",
            "default/web-1=/proc/4242/ns/net    | default/web-1 | /proc/4242/ns/net",
            "a=/var/run/netns/a                 | a             | /var/run/netns/a",
            "pod_1.x=/var/run/netns/cni-1234    | pod_1.x       | /var/run/netns/cni-1234",
            // only the first '=' separates: a path may contain one
            "a=/var/run/netns/odd=name          | a             | /var/run/netns/odd=name",
    })
    void parsesNameEqualsPath(String text, String name, String path) {
        PodSpec spec = PodSpec.parse(text);
        assertEquals(name, spec.name());
        assertEquals(Path.of(path), spec.netns());
        assertEquals(new PodSpec(name, Path.of(path)), spec);
    }

    @ParameterizedTest
    @ValueSource(strings = {"web-1", "/var/run/netns/web-1", "=/var/run/netns/web-1", "web-1=", "="})
    void refusesTextThatIsNotNameEqualsPath(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PodSpec.parse(text));
        assertTrue(e.getMessage().contains("'" + text + "'"), e.getMessage());
        assertTrue(e.getMessage().contains("NAME=NETNS_PATH"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"web-1=var/run/netns/web-1", "web-1=./ns", "web-1=ns"})
    void refusesARelativePathNamingThePod(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PodSpec.parse(text));
        String path = text.substring(text.indexOf('=') + 1);
        assertTrue(e.getMessage().contains("'" + path + "'"), e.getMessage());
        assertTrue(e.getMessage().contains("pod web-1"), e.getMessage());
        assertTrue(e.getMessage().contains("must be absolute"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"-web", ".web", "/web", "_web", "we b", "wéb", "web:1", "web@1", "web\t1"})
    void refusesBadNames(String name) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PodSpec.parse(name + "=/var/run/netns/x"));
        assertTrue(e.getMessage().contains("pod name '" + name + "' is not valid"), e.getMessage());
    }

    @Test
    void namesAreAtMost253Characters() {
        String longest = "a".repeat(253);
        assertEquals(longest, PodSpec.parse(longest + "=/var/run/netns/x").name());
        String tooLong = "a".repeat(254);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PodSpec.parse(tooLong + "=/var/run/netns/x"));
        assertTrue(e.getMessage().contains("at most 253 characters"), e.getMessage());
    }

    @Test
    void theConstructorChecksLikeParse() {
        assertThrows(IllegalArgumentException.class, () -> new PodSpec("", Path.of("/var/run/netns/x")));
        assertThrows(IllegalArgumentException.class, () -> new PodSpec("web", Path.of("relative")));
        assertThrows(NullPointerException.class, () -> new PodSpec(null, Path.of("/var/run/netns/x")));
        assertThrows(NullPointerException.class, () -> new PodSpec("web", null));
    }
}
