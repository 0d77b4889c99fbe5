package io.shunt.proxy;

import io.shunt.ffi.netns.NetNs;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What the engine needs to serve one pod: where its listeners go, how to find a connection's
 * original destination, and the mark that keeps the engine's own upstream sockets from being
 * diverted again.
 *
 * @param pod            the pod's name, for logs and counters
 * @param netns          the pod's network namespace; borrowed, the caller keeps ownership
 * @param technique      the interception technique's id, for logs and counters
 * @param outbound       where the outbound listener binds inside the pod
 * @param inbound        where the inbound listener binds inside the pod, or null for none
 * @param bypassMark     SO_MARK put on every upstream socket
 * @param destination    how to recover where a diverted connection was going
 * @param transparent    whether listeners need IP_TRANSPARENT, to accept connections addressed
 *                       elsewhere (TPROXY, bpf_sk_assign)
 * @param readCredit     told what the proxy read from each outbound client ({@link ReadCredit}); NONE for most techniques
 */
public record PodEndpoint(String pod, NetNs netns, String technique, InetSocketAddress outbound,
                          InetSocketAddress inbound, int bypassMark, OriginalDestination destination,
                          boolean transparent, ReadCredit readCredit) {
    public PodEndpoint {
        readCredit = readCredit == null ? ReadCredit.NONE : readCredit;
        Objects.requireNonNull(pod, "pod");
        Objects.requireNonNull(netns, "netns");
        Objects.requireNonNull(technique, "technique");
        Objects.requireNonNull(outbound, "outbound");
        Objects.requireNonNull(destination, "destination");
    }
}
