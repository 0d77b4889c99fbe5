package io.shunt.proxy;

import io.netty.channel.Channel;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * The original destination of a connection delivered by TPROXY (or bpf_sk_assign): the kernel
 * hands it to a transparent listener without rewriting it, so the accepted socket's own local
 * address is where the client was going.
 */
public final class LocalAddressOriginalDestination implements OriginalDestination {
    @Override
    public InetSocketAddress resolve(Channel accepted) throws IOException {
        if (!(accepted.localAddress() instanceof InetSocketAddress local)) {
            throw new IOException("accepted connection " + accepted + " has no IP local address");
        }
        return local;
    }

    @Override
    public String toString() {
        return "local address";
    }
}
