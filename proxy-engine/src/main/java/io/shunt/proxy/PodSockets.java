package io.shunt.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ServerChannel;
import io.shunt.ffi.libc.SocketOptions;

import java.io.IOException;

/**
 * Creates the engine's sockets inside a pod's network namespace. Only socket creation happens in
 * there (a socket keeps its namespace for life); binding, connecting and I/O happen afterwards on
 * the event loops. Called on event loop threads, which are platform threads.
 */
final class PodSockets {
    private final PodEndpoint pod;
    private final Transport transport;

    PodSockets(PodEndpoint pod, Transport transport) {
        this.pod = pod;
        this.transport = transport;
    }

    ServerChannel newServerChannel() {
        ServerChannel ch;
        try {
            ch = pod.netns().run(transport::newServerChannel);
        } catch (IOException e) {
            throw new ChannelException("pod " + pod.pod() + ": cannot create a listening socket in "
                    + pod.netns().path() + ": " + e.getMessage(), e);
        }
        try {
            // A successor agent binds the same address alongside during an upgrade, so no
            // connection finds the port closed; an application's socket (no SO_REUSEPORT) still cannot.
            SocketOptions.setReusePort(ChannelFds.fd(ch), true);
        } catch (IOException e) {
            ch.unsafe().closeForcibly();
            throw new ChannelException("pod " + pod.pod() + ": cannot set SO_REUSEPORT on the listener: " + e.getMessage(), e);
        }
        if (pod.transparent()) {
            try {
                // Before bind: TPROXY only hands connections to listeners that are transparent.
                SocketOptions.setTransparent(ChannelFds.fd(ch), true);
            } catch (IOException e) {
                ch.unsafe().closeForcibly();
                throw new ChannelException("pod " + pod.pod() + ": cannot make the listener transparent (needs "
                        + "CAP_NET_ADMIN): " + e.getMessage(), e);
            }
        }
        return ch;
    }

    /** A socket in the pod's namespace carrying the bypass mark, so the pod's rules let it through. */
    Channel newUpstreamChannel() {
        Channel ch;
        try {
            ch = pod.netns().run(transport::newSocketChannel);
        } catch (IOException e) {
            throw new ChannelException("pod " + pod.pod() + ": cannot create an upstream socket in "
                    + pod.netns().path() + ": " + e.getMessage(), e);
        }
        try {
            SocketOptions.setMark(ChannelFds.fd(ch), pod.bypassMark());
        } catch (IOException e) {
            ch.unsafe().closeForcibly();
            throw new ChannelException("pod " + pod.pod() + ": cannot mark the upstream socket, which would then be "
                    + "diverted back to the proxy: " + e.getMessage(), e);
        }
        return ch;
    }
}
