package io.shunt.proxy;

import io.netty.channel.Channel;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * The original destination of a connection diverted by either nftables technique, so that one
 * listener serves both and a pod can move between them while its connections keep flowing.
 * TPROXY delivers a connection without rewriting it: the accepted socket's local address is where
 * the client was going. DNAT rewrites it to the listener's own address: then conntrack knows the
 * original ({@code SO_ORIGINAL_DST}). A connection addressed to the listener itself was rewritten;
 * anything else was not.
 */
public final class DivertedOriginalDestination implements OriginalDestination {
    private final OriginalDestination conntrack = new ConntrackOriginalDestination();

    @Override
    public InetSocketAddress resolve(Channel accepted) throws IOException {
        if (!(accepted.localAddress() instanceof InetSocketAddress local)) {
            throw new IOException("accepted connection " + accepted + " has no IP local address");
        }
        if (addressedToListener(local, accepted.parent())) {
            return conntrack.resolve(accepted);
        }
        return local;
    }

    private static boolean addressedToListener(InetSocketAddress local, Channel listener) {
        if (listener == null || !(listener.localAddress() instanceof InetSocketAddress bound)) {
            return true;
        }
        return bound.getPort() == local.getPort()
                && (bound.getAddress().isAnyLocalAddress() || bound.getAddress().equals(local.getAddress()));
    }

    @Override
    public String toString() {
        return "local address, or SO_ORIGINAL_DST when DNAT rewrote it to the listener";
    }
}
