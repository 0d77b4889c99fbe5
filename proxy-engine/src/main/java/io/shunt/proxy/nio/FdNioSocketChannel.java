package io.shunt.proxy.nio;

import io.netty.channel.Channel;
import io.netty.channel.socket.nio.NioSocketChannel;

import java.nio.channels.SocketChannel;

/** A Netty NIO socket channel that tells its fd, for the socket options Netty does not expose. */
public final class FdNioSocketChannel extends NioSocketChannel {
    public FdNioSocketChannel(SocketChannel socket) {
        super(socket);
    }

    FdNioSocketChannel(Channel parent, SocketChannel socket) {
        super(parent, socket);
    }

    public int fd() {
        return NioFds.fd(javaChannel());
    }
}
