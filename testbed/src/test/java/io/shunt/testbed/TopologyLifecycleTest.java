package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Building and removing topologies: nothing outside the test namespaces, nothing left behind. */
class TopologyLifecycleTest {

    @Test
    void closeRemovesEveryNamespaceAndTheRootNamespaceNeverGainsAnInterface() throws Exception {
        Set<String> rootBefore = RootNamespace.interfaces();
        Topology topology = Topology.create("kt", 3);
        String prefix = topology.prefix();
        try {
            assertTrue(prefix.matches("shunt-kt-[0-9a-f]{4}-"), prefix);
            List<String> expected = List.of(prefix + "up", prefix + "pod-a", prefix + "pod-b", prefix + "pod-c");
            assertEquals(expected, topology.namespaceNames());
            assertEquals(Set.copyOf(expected), Set.copyOf(RootNamespace.namespacesStartingWith(prefix)));
            assertEquals(rootBefore, RootNamespace.interfaces(), "the live topology put an interface in the root namespace");
        } finally {
            topology.close();
        }
        assertEquals(List.of(), RootNamespace.namespacesStartingWith(prefix));
        assertEquals(rootBefore, RootNamespace.interfaces());
        assertFalse(Files.exists(OwnerMark.file(prefix)), "owner mark left behind");
        topology.close(); // idempotent
    }

    @Test
    void closeAlsoRemovesNamespacesACallerAddedUnderThePrefix() throws Exception {
        Topology topology = Topology.create("kt", 1);
        try {
            Command.run(List.of("ip", "netns", "add", topology.prefix() + "extra"), Command.DEFAULT_TIMEOUT, "");
        } finally {
            topology.close();
        }
        assertEquals(List.of(), RootNamespace.namespacesStartingWith(topology.prefix()));
    }

    @Test
    void aFailureHalfWayDeletesWhatWasAlreadyCreated() throws Exception {
        List<List<String>> ran = new ArrayList<>();
        IOException failure = assertThrows(IOException.class, () -> Topology.create("kt", 2, argv -> {
            ran.add(argv);
            if (argv.contains("veth") && argv.stream().anyMatch(a -> a.endsWith("pod-b"))) {
                throw new IOException("injected failure at " + argv);
            }
            Command.run(argv, Command.DEFAULT_TIMEOUT, "");
        }));
        assertTrue(failure.getMessage().startsWith("injected failure"), failure.getMessage());

        String podA = ran.stream().filter(argv -> argv.equals(List.of("ip", "netns", "add", argv.get(3))))
                .map(argv -> argv.get(3)).filter(name -> name.endsWith("pod-a")).findFirst().orElseThrow();
        String prefix = podA.substring(0, podA.length() - "pod-a".length());
        assertTrue(ran.size() > 10, "the failure should come after pod-a was wired: " + ran);
        assertEquals(List.of(), RootNamespace.namespacesStartingWith(prefix));
        assertFalse(Files.exists(OwnerMark.file(prefix)), "owner mark left behind");
    }

    @Test
    void removeLeftoversDeletesNamespacesOfDeadRunsAndKeepsLiveOnes() throws Exception {
        Topology live = Topology.create("ktleft", 1);
        // The crashed run's digits must differ from the live run's (which are random).
        String crashed = live.prefix().equals("shunt-ktleft-dead-") ? "shunt-ktleft-beef-up" : "shunt-ktleft-dead-up";
        try (live) {
            // A crashed run: its namespace exists, but no live process owns the prefix.
            Command.run(List.of("ip", "netns", "add", crashed), Command.DEFAULT_TIMEOUT, "");

            List<String> removed = Topology.removeLeftovers("ktleft");

            assertEquals(List.of(crashed), removed);
            assertEquals(List.of(), RootNamespace.namespacesStartingWith(crashed));
            assertEquals(live.namespaceNames().size(), RootNamespace.namespacesStartingWith(live.prefix()).size(),
                    "the live topology lost namespaces");
        } finally {
            if (!RootNamespace.namespacesStartingWith(crashed).isEmpty()) {
                Command.run(List.of("ip", "netns", "del", crashed), Command.DEFAULT_TIMEOUT, "");
            }
        }
    }

    @Test
    void invalidArgumentsAreRefusedBeforeAnythingIsCreated() throws Exception {
        List<String> before = NetnsInventory.list();
        assertThrows(IllegalArgumentException.class, () -> Topology.create("k-t"));
        assertThrows(IllegalArgumentException.class, () -> Topology.create("KT"));
        assertThrows(IllegalArgumentException.class, () -> Topology.create("kt", 0));
        assertThrows(IllegalArgumentException.class, () -> Topology.create("kt", Topology.MAX_PODS + 1));
        assertEquals(before, NetnsInventory.list());
    }
}
