package io.shunt.testbed;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The peers a server accepted, in order, so a test can check who the kernel says connected (the pod
 * itself, or a proxy in its place). Only the first {@value #MAX_RECORDED} are kept, so a long load
 * test cannot grow it without bound; {@link #accepted()} keeps counting.
 */
final class PeerLog {
    static final int MAX_RECORDED = 10_000;

    private final List<InetSocketAddress> peers = new ArrayList<>();
    private final AtomicLong accepted = new AtomicLong();

    void record(InetSocketAddress peer) {
        accepted.incrementAndGet();
        synchronized (peers) {
            if (peers.size() < MAX_RECORDED) {
                peers.add(peer);
            }
        }
    }

    List<InetSocketAddress> peers() {
        synchronized (peers) {
            return List.copyOf(peers);
        }
    }

    long accepted() {
        return accepted.get();
    }
}
