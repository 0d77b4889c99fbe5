package io.shunt.proxy;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PodCountersTest {

    @Test
    void upstreamConnectTimesLandInTheirBucketsOfTheSnapshot() {
        PodCounters counters = new PodCounters();
        counters.upstreamConnected(Duration.ofMillis(2).toNanos());
        counters.upstreamConnected(Duration.ofMillis(2).toNanos());
        counters.upstreamConnected(Duration.ofMillis(30).toNanos());

        LatencyHistogram.Snapshot connect = counters.snapshot().upstreamConnect();
        int le2500us = LatencyHistogram.UPPER_BOUNDS.indexOf(Duration.ofNanos(2_500_000));
        int le50ms = LatencyHistogram.UPPER_BOUNDS.indexOf(Duration.ofMillis(50));
        assertEquals(2, connect.bucketCounts().get(le2500us));
        assertEquals(1, connect.bucketCounts().get(le50ms));
        assertEquals(3, connect.count());
        assertEquals(Duration.ofMillis(34).toNanos(), connect.sumNanos());
    }

    @Test
    void aFailedConnectIsCountedAsAFailureAndNotTimed() {
        PodCounters counters = new PodCounters();
        counters.connectionAccepted();
        counters.upstreamFailed();
        counters.connectionEnded();
        PodCounters.Snapshot s = counters.snapshot();
        assertEquals(1, s.accepted());
        assertEquals(0, s.active());
        assertEquals(1, s.upstreamFailures());
        assertEquals(0, s.upstreamConnect().count());
    }

    @Test
    void bytesAreCountedPerSide() {
        PodCounters counters = new PodCounters();
        counters.bytesRelayed(true, 100);
        counters.bytesRelayed(false, 7);
        counters.bytesRelayed(true, 1);
        PodCounters.Snapshot s = counters.snapshot();
        assertEquals(101, s.bytesFromClients());
        assertEquals(7, s.bytesFromUpstreams());
    }
}
