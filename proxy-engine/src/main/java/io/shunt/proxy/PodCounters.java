package io.shunt.proxy;

import java.util.concurrent.atomic.LongAdder;

/** Running totals for one pod; written from event loops, read from anywhere. */
public final class PodCounters {
    private final LongAdder accepted = new LongAdder();
    private final LongAdder active = new LongAdder();
    private final LongAdder upstreamFailures = new LongAdder();
    private final LongAdder destinationMisses = new LongAdder();
    private final LongAdder shed = new LongAdder();
    private final LongAdder bytesFromClients = new LongAdder();
    private final LongAdder bytesFromUpstreams = new LongAdder();
    private final LatencyHistogram upstreamConnect = new LatencyHistogram();

    public void connectionAccepted() {
        accepted.increment();
        active.increment();
    }

    public void connectionEnded() {
        active.decrement();
    }

    public void upstreamFailed() {
        upstreamFailures.increment();
    }

    /** An upstream connect succeeded {@code nanos} after the proxy started it (socket creation included). */
    public void upstreamConnected(long nanos) {
        upstreamConnect.record(nanos);
    }

    /** A new connection was reset at once because the pod or the node was at its connection limit. */
    public void connectionShed() {
        shed.increment();
    }

    public void destinationMissed() {
        destinationMisses.increment();
    }

    public void bytesRelayed(boolean fromClient, int bytes) {
        (fromClient ? bytesFromClients : bytesFromUpstreams).add(bytes);
    }

    public Snapshot snapshot() {
        return new Snapshot(accepted.sum(), active.sum(), upstreamFailures.sum(), destinationMisses.sum(),
                bytesFromClients.sum(), bytesFromUpstreams.sum(), upstreamConnect.snapshot(), shed.sum());
    }

    /**
     * @param accepted           connections the pod's listeners accepted
     * @param active             connections open now
     * @param upstreamFailures   connections reset because the original destination could not be reached
     * @param destinationMisses  connections closed because no original destination was known
     * @param bytesFromClients   bytes relayed from the side that opened the connection
     * @param bytesFromUpstreams bytes relayed back to it
     * @param upstreamConnect    how long successful upstream connects took, from creating the socket
     *                           in the pod's namespace until the connection was established
     * @param shed               new connections reset at once because the pod or node was at its limit
     */
    public record Snapshot(long accepted, long active, long upstreamFailures, long destinationMisses,
                           long bytesFromClients, long bytesFromUpstreams, LatencyHistogram.Snapshot upstreamConnect,
                           long shed) {
    }
}
