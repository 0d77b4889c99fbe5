package io.shunt.proxy;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Admits a pod's new connection only while the pod and the node are under their limits. One gate
 * per pod, sharing the node's count; admission and release are lock-free.
 */
public final class ConnectionGate {
    /** Why a connection was shed, as the log and the metric say it. */
    public enum Shed { POD_LIMIT, NODE_LIMIT }

    private final ConnectionLimits limits;
    private final AtomicInteger node;
    private final AtomicInteger pod = new AtomicInteger();

    ConnectionGate(ConnectionLimits limits, AtomicInteger node) {
        this.limits = limits;
        this.node = node;
    }

    /** Takes a slot for a new connection; empty result when admitted, else why it is shed. */
    public java.util.Optional<Shed> tryAdmit() {
        if (pod.incrementAndGet() > limits.perPod()) {
            pod.decrementAndGet();
            return java.util.Optional.of(Shed.POD_LIMIT);
        }
        if (node.incrementAndGet() > limits.perNode()) {
            node.decrementAndGet();
            pod.decrementAndGet();
            return java.util.Optional.of(Shed.NODE_LIMIT);
        }
        return java.util.Optional.empty();
    }

    /** Gives back the slot of an admitted connection that ended. */
    public void release() {
        pod.decrementAndGet();
        node.decrementAndGet();
    }

    public ConnectionLimits limits() {
        return limits;
    }
}
