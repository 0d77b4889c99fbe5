package io.shunt.proxy;

/**
 * How many connections the engine holds at once, per pod and for the whole node. A connection over
 * either limit is shed: reset at once, before anything is read from it or dialled for it, and
 * counted, so overload costs the client a retry and the node nothing, never its memory.
 *
 * @param perPod  open connections one pod may have through the proxy (both directions)
 * @param perNode open connections of all pods together
 */
public record ConnectionLimits(int perPod, int perNode) {
    /** Generous for one pod, and far below what the agent's heap and fds could hold for a node. */
    public static final ConnectionLimits DEFAULTS = new ConnectionLimits(10_000, 50_000);

    public ConnectionLimits {
        if (perPod < 1) {
            throw new IllegalArgumentException("the per-pod connection limit must be at least 1, got " + perPod);
        }
        if (perNode < perPod) {
            throw new IllegalArgumentException("the node's connection limit (" + perNode
                    + ") must be at least the per-pod limit (" + perPod + ")");
        }
    }
}
