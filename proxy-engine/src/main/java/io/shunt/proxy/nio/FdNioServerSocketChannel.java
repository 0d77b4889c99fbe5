package io.shunt.proxy.nio;

import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.internal.SocketUtils;

import java.io.IOException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;

/** A Netty NIO listener whose accepted channels are {@link FdNioSocketChannel}s. */
public final class FdNioServerSocketChannel extends NioServerSocketChannel {
    public FdNioServerSocketChannel(ServerSocketChannel channel) {
        super(channel);
    }

    public int fd() {
        return NioFds.fd(javaChannel());
    }

    @Override
    protected int doReadMessages(List<Object> buf) throws Exception {
        SocketChannel accepted = SocketUtils.accept(javaChannel());
        if (accepted == null) {
            return 0;
        }
        try {
            buf.add(new FdNioSocketChannel(this, accepted));
            return 1;
        } catch (RuntimeException e) {
            closeQuietly(accepted);
            throw e;
        }
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // the accept failed already; that is what gets reported
        }
    }
}
