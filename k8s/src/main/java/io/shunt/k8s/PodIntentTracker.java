package io.shunt.k8s;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns what the informer saw into {@link PodEvents} calls: remembers the last intent delivered per
 * pod so an update that changes nothing the agent acts on is dropped, and a pod replaced under the
 * same name is reported as the old one deleted before the new one. Not thread-safe: {@link
 * PodWatcher} calls it from its single delivery thread only.
 */
final class PodIntentTracker {
    private static final Logger log = LoggerFactory.getLogger(PodIntentTracker.class);

    private final String nodeName;
    private final PodEvents events;
    /** Keyed by {@code namespace/name}, like the informer's cache, so a replaced pod is noticed. */
    private final Map<String, PodIntent> delivered = new HashMap<>();
    private boolean synced;

    PodIntentTracker(String nodeName, PodEvents events) {
        this.nodeName = nodeName;
        this.events = events;
    }

    /** The informer has this state of the pod (added, updated, re-listed or resynced). */
    void seen(PodIntent intent) {
        PodIntent before = delivered.get(intent.ref());
        if (before != null && !before.uid().equals(intent.uid())) {
            // a re-list after a lost watch shows a new pod under the old name: the informer reports
            // that as an update, but the old pod's sandbox is gone and the agent must hear so
            delivered.remove(intent.ref());
            deliverDeleted(before.namespace(), before.name(), before.uid(), "replaced by uid " + intent.uid());
            before = null;
        }
        if (intent.equals(before)) {
            log.atDebug().addKeyValue("pod", intent.ref())
                    .log("unchanged for Shunt (status or other fields), not delivered");
            return;
        }
        delivered.put(intent.ref(), intent);
        if (before == null) {
            log.atInfo().addKeyValue("pod", intent.ref())
                    .log("upserted (new, uid={}): {}", intent.uid(), intent.annotations().describe());
        } else {
            log.atInfo().addKeyValue("pod", intent.ref())
                    .log("upserted (changed: {})", String.join(", ", changes(before, intent)));
        }
        intent.problems().forEach(p -> log.warn("{}", p.message()));
        try {
            events.upserted(intent);
        } catch (RuntimeException e) {
            log.error("PodEvents.upserted for pod={} (uid={}) threw; the event is not retried",
                    intent.ref(), intent.uid(), e);
        }
    }

    /**
     * The informer no longer has the pod. {@code noticedOnRelist} is true when the watch missed the
     * delete and a re-list found the pod missing.
     */
    void gone(String namespace, String name, String uid, boolean noticedOnRelist) {
        PodIntent before = delivered.get(namespace + "/" + name);
        if (before != null && before.uid().equals(uid)) {
            delivered.remove(before.ref());
        }
        deliverDeleted(namespace, name, uid, noticedOnRelist ? "missing from a re-list after a lost watch" : "deleted");
    }

    /** A list of the node's pods was delivered in full; the first one completes the initial view. */
    void listed() {
        if (synced) {
            log.info("pods of node {} re-listed: {} pods known", nodeName, delivered.size());
            return;
        }
        synced = true;
        log.info("pods of node {} synced: {} pods", nodeName, delivered.size());
        try {
            events.synced();
        } catch (RuntimeException e) {
            log.error("PodEvents.synced for node {} threw; it is not called again", nodeName, e);
        }
    }

    private void deliverDeleted(String namespace, String name, String uid, String why) {
        log.atInfo().addKeyValue("pod", namespace + "/" + name).log("deleted (uid={}, {})", uid, why);
        try {
            events.deleted(namespace, name, uid);
        } catch (RuntimeException e) {
            log.error("PodEvents.deleted for pod={}/{} (uid={}) threw; the event is not retried",
                    namespace, name, uid, e);
        }
    }

    private static List<String> changes(PodIntent before, PodIntent after) {
        List<String> changes = new ArrayList<>(after.annotations().changesSince(before.annotations()));
        if (!before.problems().equals(after.problems())) {
            changes.add("ignored annotations: " + keys(before) + " -> " + keys(after));
        }
        return changes;
    }

    private static List<String> keys(PodIntent intent) {
        return intent.problems().stream().map(AnnotationProblem::key).toList();
    }
}
