package io.shunt.agent;

import org.junit.jupiter.api.Test;

import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OptOutTest {
    @Test
    void skipsANamespaceOrOnePodAndSaysWhich() {
        OptOut optOut = new OptOut(Set.of("kube-system"), Set.of("default/db-0"));

        assertEquals(Optional.of("namespace kube-system is opted out"), optOut.reason("kube-system", "coredns-1"));
        assertEquals(Optional.of("pod default/db-0 is opted out"), optOut.reason("default", "db-0"));
        assertTrue(optOut.reason("default", "web-1").isEmpty());
        assertTrue(optOut.reason("", "").isEmpty(), "a pod without Kubernetes names is never skipped by name");
    }

    @Test
    void refusesNamesKubernetesWouldNot() {
        assertThrows(IllegalArgumentException.class, () -> new OptOut(Set.of("Kube_System"), Set.of()));
        assertThrows(IllegalArgumentException.class, () -> new OptOut(Set.of(), Set.of("db-0")));
        assertThrows(IllegalArgumentException.class, () -> new OptOut(Set.of(), Set.of("default/")));
    }
}
