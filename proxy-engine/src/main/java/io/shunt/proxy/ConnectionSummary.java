package io.shunt.proxy;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * One relayed connection, reported when it ends.
 *
 * @param outcome how it ended: relayed, upstream-failed, no-original-destination
 */
public record ConnectionSummary(String pod, String technique, Direction direction, InetSocketAddress client,
                                InetSocketAddress originalDestination, long bytesFromClient,
                                long bytesFromUpstream, Duration duration, String outcome) {
    @Override
    public String toString() {
        return "pod=" + pod + " technique=" + technique + " " + details();
    }

    /** Everything but the pod and technique, which a log line carries as its own fields. */
    public String details() {
        return "direction=" + direction.id()
                + " client=" + address(client) + " original_dst=" + address(originalDestination)
                + " bytes_from_client=" + bytesFromClient + " bytes_from_upstream=" + bytesFromUpstream
                + " duration_ms=" + String.format("%.1f", duration.toNanos() / 1e6) + " outcome=" + outcome;
    }

    private static String address(InetSocketAddress a) {
        return a == null ? "-" : a.getAddress().getHostAddress() + ":" + a.getPort();
    }
}
