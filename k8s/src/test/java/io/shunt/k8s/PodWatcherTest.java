package io.shunt.k8s;

import io.fabric8.kubernetes.api.model.Pod;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.PortRange;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The watcher against fabric8's CRUD mock API server. A negative ("no event for X") is checked by
 * making a later change Y and asserting the next event is Y's: events are delivered in order, so an
 * event for X would have come first. No test sleeps.
 */
class PodWatcherTest {
    private static final String NODE = "node-a";
    private static final String OTHER_NODE = "node-b";

    private MockCluster cluster;
    private final RecordingPodEvents events = new RecordingPodEvents();
    private PodWatcher watcher;

    @BeforeEach
    void startCluster() {
        cluster = new MockCluster();
    }

    @AfterEach
    void stop() {
        if (watcher != null) {
            watcher.close();
        }
        cluster.close();
    }

    private PodWatcher watch() {
        watcher = PodWatcher.start(cluster.client, NODE, events);
        return watcher;
    }

    /** Takes synced, then waits for the watch that follows the list (see awaitOpenWatch for why). */
    private void synced() {
        events.nextSynced();
        cluster.dispatcher.awaitOpenWatch(RecordingPodEvents.DEADLINE);
    }

    @Test
    void onlyPodsOfThisNodeAreDelivered_thenSynced_allOnTheWatchersThread() {
        Pod web = cluster.createPod("shop", "web-1", NODE, Map.of());
        Pod db = cluster.createPod("data", "db-0", NODE, Map.of());
        cluster.createPod("shop", "web-2", OTHER_NODE, Map.of());
        watch();

        Map<String, String> initialUids = new HashMap<>();
        for (int i = 0; i < 2; i++) {
            PodIntent pod = events.nextUpserted();
            assertEquals(NODE, pod.nodeName());
            initialUids.put(pod.ref(), pod.uid());
        }
        synced();
        assertEquals(Map.of("shop/web-1", web.getMetadata().getUid(), "data/db-0", db.getMetadata().getUid()),
                initialUids);

        cluster.createPod("shop", "web-3", OTHER_NODE, Map.of());
        cluster.createPod("shop", "api-1", NODE, Map.of());
        assertEquals("shop/api-1", events.nextUpserted().ref(), "web-3 of the other node, created first, came first");

        assertEquals(Set.of(PodWatcher.THREAD_NAME), Set.copyOf(events.threads));
        List<String> reads = cluster.dispatcher.podReads();
        assertFalse(reads.isEmpty());
        for (String read : reads) {
            assertEquals("spec.nodeName=" + NODE, NodeSelectingCrudDispatcher.queryOf(read).get("fieldSelector"),
                    () -> "a pod list or watch without the node's field selector: " + read);
        }
    }

    @Test
    void syncedComesEvenWhenTheNodeHasNoPods() {
        cluster.createPod("shop", "web-1", OTHER_NODE, Map.of());
        watch();

        synced();
    }

    @Test
    void anAnnotationChangeYieldsTheNewIntent_aStatusChangeYieldsNothing() {
        Pod web = cluster.createPod("shop", "web-1", NODE, Map.of());
        cluster.createPod("shop", "fence", NODE, Map.of());
        watch();
        events.nextUpserted();
        events.nextUpserted();
        synced();

        cluster.setPhase("shop", "web-1", "Running");
        cluster.annotate("shop", "fence", ShuntAnnotations.EXCLUDE_INBOUND_PORTS, "15020");
        assertEquals("shop/fence", events.nextUpserted().ref(), "the status change of web-1 was delivered");

        cluster.annotate("shop", "web-1", ShuntAnnotations.TECHNIQUE, "tproxy");
        PodIntent changed = events.nextUpserted();
        assertEquals("shop/web-1", changed.ref());
        assertEquals(web.getMetadata().getUid(), changed.uid());
        assertEquals(Optional.of(TechniqueId.TPROXY), changed.annotations().technique());
    }

    @Test
    void aDeleteYieldsDeletedWithTheUid() {
        Pod web = cluster.createPod("shop", "web-1", NODE, Map.of());
        watch();
        events.nextUpserted();
        synced();

        cluster.delete("shop", "web-1");

        assertEquals(new RecordingPodEvents.Deleted("shop", "web-1", web.getMetadata().getUid()),
                events.nextDeleted());
    }

    @Test
    void aDeleteMissedWhileDisconnectedIsDeliveredAfterTheRelist() {
        Pod gone = cluster.createPod("shop", "web-1", NODE, Map.of());
        cluster.createPod("shop", "web-2", NODE, Map.of());
        watch();
        events.nextUpserted();
        events.nextUpserted();
        synced();

        cluster.dispatcher.loseDeletion("shop", "web-1");

        assertEquals(new RecordingPodEvents.Deleted("shop", "web-1", gone.getMetadata().getUid()),
                events.nextDeleted());
        // the watch is back, and the re-list did not re-deliver the unchanged web-2
        cluster.createPod("shop", "web-3", NODE, Map.of());
        assertEquals("shop/web-3", events.nextUpserted().ref());
    }

    @Test
    void annotationsArriveParsed_badOnesReportedAndIgnoredIndividually() {
        cluster.createPod("shop", "web-1", NODE, Map.of(
                ShuntAnnotations.INTERCEPT, "false",
                ShuntAnnotations.TECHNIQUE, "xdp",
                ShuntAnnotations.EXCLUDE_OUTBOUND_PORTS, "22,x",
                ShuntAnnotations.EXCLUDE_INBOUND_PORTS, "15020,9000-9100"));
        watch();

        PodIntent pod = events.nextUpserted();

        assertEquals(new ShuntAnnotations(false, Optional.empty(), List.of(), List.of(),
                List.of(PortRange.of(15020), new PortRange(9000, 9100))), pod.annotations());
        assertEquals(List.of(
                new AnnotationProblem("shop/web-1", ShuntAnnotations.TECHNIQUE, "xdp",
                        "unknown technique 'xdp'; known techniques: redirect, tproxy, tc, sockmap"),
                new AnnotationProblem("shop/web-1", ShuntAnnotations.EXCLUDE_OUTBOUND_PORTS, "22,x",
                        "invalid port range 'x': expected a port (80) or a range (8000-8100) of numbers 1..65535")),
                pod.problems());
    }

    @Test
    void aRefusedListIsRetriedUntilItWorks() {
        cluster.createPod("shop", "web-1", NODE, Map.of());
        cluster.dispatcher.forbidPodReads(true);
        watch();
        // fabric8 gives up on a list that fails before the informer ever started; the watcher must not
        cluster.dispatcher.awaitPodReads(3, RecordingPodEvents.DEADLINE);
        assertEquals(List.of(), events.pending(), "nothing is delivered while pods cannot be listed");

        cluster.dispatcher.forbidPodReads(false);

        assertEquals("shop/web-1", events.nextUpserted().ref());
        synced();
    }

    @Test
    void afterCloseNothingIsDelivered() {
        watch();
        synced();
        watcher.close();
        watcher.close(); // idempotent

        RecordingPodEvents fenceEvents = new RecordingPodEvents();
        try (PodWatcher fence = PodWatcher.start(cluster.client, NODE, fenceEvents)) {
            assertEquals(NODE, fence.nodeName());
            fenceEvents.nextSynced();
            cluster.createPod("shop", "web-1", NODE, Map.of());
            assertEquals("shop/web-1", fenceEvents.nextUpserted().ref());
        }
        assertEquals(List.of(), events.pending());
    }

    @Test
    void anInvalidNodeNameIsRefusedWithTheValueAndTheRule() {
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> PodWatcher.start(cluster.client, "", events));
        assertTrue(empty.getMessage().startsWith("node name is empty"), empty.getMessage());

        IllegalArgumentException upper = assertThrows(IllegalArgumentException.class,
                () -> PodWatcher.start(cluster.client, "Node_A", events));
        assertTrue(upper.getMessage().contains("'Node_A'") && upper.getMessage().contains("DNS-1123 subdomain"),
                upper.getMessage());

        assertThrows(IllegalArgumentException.class, () -> PodWatcher.checkNodeName("a".repeat(254)));
        assertThrows(IllegalArgumentException.class, () -> PodWatcher.checkNodeName("-node"));
        assertThrows(IllegalArgumentException.class, () -> PodWatcher.checkNodeName("node..a"));
        assertThrows(IllegalArgumentException.class, () -> PodWatcher.checkNodeName(null));
        PodWatcher.checkNodeName("ip-10-0-3-17.eu-west-1.compute.internal");
        PodWatcher.checkNodeName("a".repeat(253));
    }
}
