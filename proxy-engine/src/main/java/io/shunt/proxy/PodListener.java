package io.shunt.proxy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.timeout.IdleStateHandler;
import io.shunt.proxy.relay.AcceptHandler;
import io.shunt.proxy.relay.RelayContext;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** One listening socket inside a pod: the outbound one (15001) or the inbound one (15006). */
final class PodListener implements AutoCloseable {
    private static final long BIND_TIMEOUT_SECONDS = 10;

    private final Direction direction;
    private final Channel channel;

    private PodListener(Direction direction, Channel channel) {
        this.direction = direction;
        this.channel = channel;
    }

    static PodListener open(EventLoopGroup group, EngineConfig config, PodSockets sockets, PodEndpoint pod,
                            Direction direction, InetSocketAddress address, PodCounters counters, ConnectionGate gate,
                            ChannelGroup connections, AtomicReference<String> technique, ConnectionObserver observer)
            throws ListenerBindException {
        RelayContext relay = new RelayContext(pod.pod(), technique, direction, pod.destination(),
                sockets::newUpstreamChannel, config.connectTimeout(), counters, gate, connections, observer,
                // only outbound clients are the pod's apps, whose bytes may arrive without TCP
                direction == Direction.OUTBOUND ? pod.readCredit() : ReadCredit.NONE);
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channelFactory(sockets::newServerChannel)
                .option(ChannelOption.SO_BACKLOG, config.acceptBacklog())
                .option(ChannelOption.SO_REUSEADDR, true)
                // Nothing is read from a client before its upstream is connected: no buffering, and a
                // failed upstream becomes a reset the client sees, as it would without the proxy.
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(
                                new IdleStateHandler(0, 0, config.idleTimeout().toMillis(), TimeUnit.MILLISECONDS),
                                new AcceptHandler(relay));
                    }
                });
        ChannelFuture bound = bootstrap.bind(address);
        if (!bound.awaitUninterruptibly(BIND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            bound.channel().close();
            throw new ListenerBindException(pod.pod(), direction, address, pod.netns().path().toString(),
                    new IllegalStateException("bind did not complete in " + BIND_TIMEOUT_SECONDS + " s"));
        }
        if (!bound.isSuccess()) {
            throw new ListenerBindException(pod.pod(), direction, address, pod.netns().path().toString(), bound.cause());
        }
        return new PodListener(direction, bound.channel());
    }

    Direction direction() {
        return direction;
    }

    InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    /** The listening socket's fd; valid while the listener is open. */
    int fd() {
        return ChannelFds.fd(channel);
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly(BIND_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }
}
