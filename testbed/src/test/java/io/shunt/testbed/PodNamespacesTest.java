package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bare pod namespaces: lo up and nothing else, removed on close, and never an interface in the root namespace. */
class PodNamespacesTest {

    @Test
    void namespacesHaveOnlyLoUpAndCloseRemovesThemAndTheOwnerMark() throws Exception {
        Set<String> rootBefore = RootNamespace.interfaces();
        PodNamespaces pods = PodNamespaces.create("ktpods", 3);
        String prefix = pods.prefix();
        try {
            assertTrue(prefix.matches("shunt-ktpods-[0-9a-f]{4}-"), prefix);
            assertEquals(List.of(prefix + "0", prefix + "1", prefix + "2"), pods.names());
            assertEquals(Set.copyOf(pods.names()), Set.copyOf(RootNamespace.namespacesStartingWith(prefix)));
            assertEquals(Path.of("/var/run/netns", prefix + "2"), pods.path(2));
            String links = Topology.exec(pods.name(1), "ip", "-o", "link");
            assertEquals(1, links.lines().count(), links);
            assertTrue(links.contains("lo:") && links.contains("UP"), links);
            assertEquals(rootBefore, RootNamespace.interfaces());
            assertTrue(Files.exists(OwnerMark.file(prefix)), "no owner mark: removeLeftovers would take a live run's namespaces");
        } finally {
            pods.close();
        }
        assertEquals(List.of(), RootNamespace.namespacesStartingWith(prefix));
        assertFalse(Files.exists(OwnerMark.file(prefix)), "owner mark left behind");
        pods.close(); // idempotent
    }

    @Test
    void aBadCountOrTagCreatesNothing() throws Exception {
        List<String> before = NetnsInventory.list();
        assertThrows(IllegalArgumentException.class, () -> PodNamespaces.create("ktpods", 0));
        assertThrows(IllegalArgumentException.class, () -> PodNamespaces.create("ktpods", PodNamespaces.MAX + 1));
        assertThrows(IllegalArgumentException.class, () -> PodNamespaces.create("kt-pods", 1));
        assertEquals(before, NetnsInventory.list());
    }
}
