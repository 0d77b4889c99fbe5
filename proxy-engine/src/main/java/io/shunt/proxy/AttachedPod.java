package io.shunt.proxy;

import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.netty.util.concurrent.Future;
import io.shunt.proxy.relay.Connection;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** A pod the engine serves: its listeners, its live connections and its counters. */
public final class AttachedPod implements AutoCloseable {
    private final PodEndpoint endpoint;
    private final List<PodListener> listeners;
    private final ChannelGroup connections;
    private final PodCounters counters;
    private final AtomicReference<String> technique;
    private boolean closed;

    AttachedPod(PodEndpoint endpoint, List<PodListener> listeners, ChannelGroup connections, PodCounters counters,
                AtomicReference<String> technique) {
        this.endpoint = endpoint;
        this.technique = technique;
        this.listeners = List.copyOf(listeners);
        this.connections = connections;
        this.counters = counters;
    }

    public PodEndpoint endpoint() {
        return endpoint;
    }

    /** The technique that diverts the pod's connections now. */
    public String technique() {
        return technique.get();
    }

    /**
     * Records that another technique now diverts the pod's connections (the listeners serve any
     * technique whose connections they can accept, see {@link DivertedOriginalDestination}).
     */
    public void relabel(String nowDivertedBy) {
        technique.set(nowDivertedBy);
    }

    public PodCounters.Snapshot counters() {
        return counters.snapshot();
    }

    /** The address a listener of this direction is bound to, e.g. to verify it. */
    public InetSocketAddress listenerAddress(Direction direction) {
        return listeners.stream().filter(l -> l.direction() == direction).findFirst()
                .map(PodListener::address)
                .orElseThrow(() -> new IllegalArgumentException("pod " + endpoint.pod() + " has no " + direction.id()
                        + " listener"));
    }

    /**
     * The fd of the listening socket of {@code direction}, e.g. for a technique that hands the
     * socket itself to the kernel (the tc technique inserts it into a SOCKMAP). The fd stays this
     * pod's: it is valid until the listeners close, and the caller must not close it.
     *
     * @throws IllegalArgumentException when the pod has no listener of that direction
     */
    public int listenerFd(Direction direction) {
        return listeners.stream().filter(l -> l.direction() == direction).findFirst()
                .map(PodListener::fd)
                .orElseThrow(() -> new IllegalArgumentException("pod " + endpoint.pod() + " has no " + direction.id()
                        + " listener"));
    }

    /**
     * The pod's open connections as they are now. Each is read on its own event loop, so the
     * figures are consistent per connection; one whose loop does not answer within
     * {@code timeout} is left out.
     */
    public List<ConnectionSummary> openConnections(Duration timeout) {
        List<Future<ConnectionSummary>> pending = new ArrayList<>();
        for (Channel channel : connections) {
            Connection connection = channel.attr(Connection.KEY).get();
            if (connection != null) {
                pending.add(channel.eventLoop().submit(connection::snapshot));
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        List<ConnectionSummary> open = new ArrayList<>(pending.size());
        for (Future<ConnectionSummary> f : pending) {
            if (f.awaitUninterruptibly(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS) && f.isSuccess()) {
                open.add(f.getNow());
            }
        }
        return open;
    }

    /** Stops accepting new connections (closes the listeners); open connections keep flowing. */
    public synchronized void stopAccepting() {
        listeners.forEach(PodListener::close);
    }

    /**
     * Stops accepting. Established connections keep flowing until they end, unless
     * {@code closeConnections}: then they are closed too.
     */
    public synchronized void close(boolean closeConnections) {
        if (closed) {
            return;
        }
        closed = true;
        listeners.forEach(PodListener::close);
        if (closeConnections) {
            connections.close().awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public void close() {
        close(true);
    }
}
