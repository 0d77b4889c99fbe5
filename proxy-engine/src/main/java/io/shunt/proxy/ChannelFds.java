package io.shunt.proxy;

import io.netty.channel.Channel;
import io.netty.channel.unix.UnixChannel;
import io.shunt.proxy.nio.FdNioServerSocketChannel;
import io.shunt.proxy.nio.FdNioSocketChannel;

/** The fd behind any channel the engine creates, whatever its transport. */
public final class ChannelFds {
    private ChannelFds() {
    }

    public static int fd(Channel ch) {
        return switch (ch) {
            case UnixChannel unix -> unix.fd().intValue();
            case FdNioSocketChannel nio -> nio.fd();
            case FdNioServerSocketChannel nio -> nio.fd();
            default -> throw new IllegalArgumentException("channel " + ch + " (" + ch.getClass().getName()
                    + ") was not created by the engine's transports; its fd is unknown");
        };
    }
}
