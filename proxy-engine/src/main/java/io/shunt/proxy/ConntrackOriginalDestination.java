package io.shunt.proxy;

import io.netty.channel.Channel;
import io.shunt.ffi.libc.SocketOptions;

import java.io.IOException;
import java.net.InetSocketAddress;

/** The pre-DNAT destination, from conntrack through {@code getsockopt(SOL_IP, SO_ORIGINAL_DST)}. */
public final class ConntrackOriginalDestination implements OriginalDestination {
    @Override
    public InetSocketAddress resolve(Channel accepted) throws IOException {
        return SocketOptions.originalDestination(ChannelFds.fd(accepted));
    }

    @Override
    public String toString() {
        return "SO_ORIGINAL_DST";
    }
}
