package io.shunt.k8s;

/**
 * What the agent is told about the pods of its node. {@link PodWatcher} calls these methods one at
 * a time, in order, on a single thread of its own (see {@link PodWatcher} for its name); an
 * implementation needs no locking against itself but should hand slow work elsewhere, since the
 * next event waits for the current call to return. An exception thrown here is logged and the
 * event is considered delivered: it is not retried.
 */
public interface PodEvents {

    /**
     * A pod on this node appeared, or its {@link PodIntent} changed (its Shunt annotations, or
     * which annotations were rejected). Not called for updates that leave the intent as it was,
     * such as status changes, nor again when a reconnect re-lists an unchanged pod.
     */
    void upserted(PodIntent pod);

    /**
     * The pod with this UID is gone from this node. Also called when the watcher notices the
     * deletion only on a re-list after a lost connection, and, before {@link #upserted}, when a pod
     * was replaced by a new one with the same name but a different UID.
     */
    void deleted(String namespace, String name, String uid);

    /**
     * Called once, after the {@link #upserted} calls for every pod that was on this node when the
     * watcher first listed them: from here on the agent's view is complete, so it can reconcile
     * and report ready. Later re-lists do not call it again.
     */
    void synced();
}
