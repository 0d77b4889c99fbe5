package io.shunt.proxy;

import io.netty.channel.Channel;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * Where a hijacked connection was going before the kernel diverted it. Each interception technique
 * preserves that differently (conntrack for DNAT, the socket's local address for TPROXY, a BPF map
 * for sockmap), so each brings its own resolver.
 */
@FunctionalInterface
public interface OriginalDestination {
    /**
     * @param accepted the connection the listener accepted
     * @throws IOException when the kernel has no original destination for it (the connection was
     *                     not diverted, e.g. a client dialled the listener port directly)
     */
    InetSocketAddress resolve(Channel accepted) throws IOException;
}
