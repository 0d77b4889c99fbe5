package io.shunt.k8s;

import io.shunt.k8s.RecordingPodEvents.Deleted;
import io.shunt.k8s.RecordingPodEvents.Event;
import io.shunt.k8s.RecordingPodEvents.Synced;
import io.shunt.k8s.RecordingPodEvents.Upserted;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The deduplication and replacement rules, without a server: every call is synchronous here. */
class PodIntentTrackerTest {
    private final List<Event> calls = new ArrayList<>();
    private final PodIntentTracker tracker = new PodIntentTracker("node-a", new PodEvents() {
        @Override
        public void upserted(PodIntent pod) {
            calls.add(new Upserted(pod));
        }

        @Override
        public void deleted(String namespace, String name, String uid) {
            calls.add(new Deleted(namespace, name, uid));
        }

        @Override
        public void synced() {
            calls.add(new Synced());
        }
    });

    private static PodIntent intent(String uid, Map<String, String> annotations) {
        ShuntAnnotations.Parsed parsed = ShuntAnnotations.parse("shop/web-1", annotations);
        return new PodIntent("shop", "web-1", uid, "node-a", parsed.annotations(), parsed.problems());
    }

    @Test
    void anUnchangedIntentIsDeliveredOnce() {
        PodIntent first = intent("uid-1", Map.of());
        tracker.seen(first);
        tracker.seen(intent("uid-1", Map.of("unrelated", "changed")));

        assertEquals(List.of(new Upserted(first)), calls);
    }

    @Test
    void aChangedAnnotationIsDeliveredAgain() {
        PodIntent before = intent("uid-1", Map.of());
        PodIntent after = intent("uid-1", Map.of(ShuntAnnotations.TECHNIQUE, "tproxy"));
        tracker.seen(before);
        tracker.seen(after);

        assertEquals(List.of(new Upserted(before), new Upserted(after)), calls);
    }

    @Test
    void aChangeInWhichValuesAreRejectedIsDeliveredAgain() {
        PodIntent bad = intent("uid-1", Map.of(ShuntAnnotations.TECHNIQUE, "xdp"));
        PodIntent otherBad = intent("uid-1", Map.of(ShuntAnnotations.TECHNIQUE, "bpf"));
        tracker.seen(bad);
        tracker.seen(otherBad);

        assertEquals(bad.annotations(), otherBad.annotations());
        assertEquals(List.of(new Upserted(bad), new Upserted(otherBad)), calls);
    }

    @Test
    void aPodReplacedUnderTheSameNameIsDeletedBeforeTheNewOneIsUpserted() {
        PodIntent old = intent("uid-1", Map.of());
        PodIntent replacement = intent("uid-2", Map.of());
        tracker.seen(old);
        tracker.seen(replacement);

        assertEquals(List.of(new Upserted(old), new Deleted("shop", "web-1", "uid-1"), new Upserted(replacement)),
                calls);
    }

    @Test
    void goneIsDeliveredWithTheUid_andTheSamePodComingBackIsNewAgain() {
        PodIntent pod = intent("uid-1", Map.of());
        tracker.seen(pod);
        tracker.gone("shop", "web-1", "uid-1", true);
        tracker.seen(pod);

        assertEquals(List.of(new Upserted(pod), new Deleted("shop", "web-1", "uid-1"), new Upserted(pod)), calls);
    }

    @Test
    void syncedOnlyAfterTheFirstList() {
        tracker.listed();
        tracker.listed();

        assertEquals(List.of(new Synced()), calls);
    }

    @Test
    void aThrowingCallbackDoesNotStopLaterEvents() {
        List<String> delivered = new ArrayList<>();
        PodIntentTracker throwing = new PodIntentTracker("node-a", new PodEvents() {
            @Override
            public void upserted(PodIntent pod) {
                delivered.add("upserted " + pod.uid());
                throw new IllegalStateException("agent bug");
            }

            @Override
            public void deleted(String namespace, String name, String uid) {
                delivered.add("deleted " + uid);
            }

            @Override
            public void synced() {
                delivered.add("synced");
            }
        });
        throwing.seen(intent("uid-1", Map.of()));
        throwing.listed();
        throwing.gone("shop", "web-1", "uid-1", false);

        assertEquals(List.of("upserted uid-1", "synced", "deleted uid-1"), delivered);
    }
}
