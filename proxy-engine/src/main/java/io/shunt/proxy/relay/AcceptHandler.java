package io.shunt.proxy.relay;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.shunt.proxy.ConnectionGate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * First handler of an accepted connection: finds where it was going, connects there from inside
 * the pod, then hands both sides to {@link RelayHandler}s. Nothing is read from the client
 * before that, so a connection the proxy cannot complete is reset, never half-served.
 */
public final class AcceptHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(AcceptHandler.class);

    private final RelayContext context;
    private Connection connection;
    /**
     * Bytes and the end of input that arrive before the upstream is connected. AUTO_READ is off
     * until then, but epoll and io_uring still read when the client's FIN raises RDHUP, so a
     * short request followed by a half-close can land here; it is replayed, never dropped.
     */
    private final List<ByteBuf> early = new ArrayList<>(1);
    private boolean clientInputEnded;

    public AcceptHandler(RelayContext context) {
        this.context = context;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        Channel client = ctx.channel();
        Optional<ConnectionGate.Shed> shed = context.gate().tryAdmit();
        if (shed.isPresent()) {
            shedding(client, shed.get());
            return;
        }
        context.connections().add(client);
        connection = new Connection(context, client);
        InetSocketAddress destination;
        try {
            destination = context.destination().resolve(client);
        } catch (IOException e) {
            LOG.atWarn().addKeyValue("pod", context.pod()).addKeyValue("technique", context.technique())
                    .log("direction={} client={}: no original destination ({}); closing", context.direction().id(),
                            client.remoteAddress(), e.getMessage());
            context.counters().destinationMissed();
            connection.reset("no-original-destination");
            return;
        }
        connection.destination(destination);
        long connectStart = System.nanoTime();
        ChannelFuture connect = new Bootstrap()
                .group(client.eventLoop())
                .channelFactory(context.upstreamSockets())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) context.connectTimeout().toMillis())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new RelayHandler(connection, client, false))
                .connect(destination);
        connection.upstream(connect.channel());
        connect.addListener((ChannelFuture f) -> upstreamConnected(ctx, f, connectStart));
    }

    private void upstreamConnected(ChannelHandlerContext ctx, ChannelFuture f, long connectStart) {
        if (!f.isSuccess()) {
            LOG.atDebug().addKeyValue("pod", context.pod()).addKeyValue("technique", context.technique())
                    .log("direction={} client={} original_dst={}: upstream connect failed: {}",
                            context.direction().id(), ctx.channel().remoteAddress(), f.channel().remoteAddress(),
                            f.cause().getMessage());
            context.counters().upstreamFailed();
            releaseEarly();
            connection.reset("upstream-failed");
            return;
        }
        // Counted even if the client has left meanwhile: it measures the upstream, not the client.
        context.counters().upstreamConnected(System.nanoTime() - connectStart);
        Channel client = ctx.channel();
        Channel upstream = f.channel();
        if (!client.isActive()) {
            releaseEarly();
            connection.finish("client-gone");
            return;
        }
        RelayHandler relay = new RelayHandler(connection, upstream, true);
        ctx.pipeline().replace(this, "relay", relay);
        for (ByteBuf buf : early) {
            connection.relayed(true, buf.readableBytes());
            upstream.write(buf, upstream.voidPromise());
        }
        early.clear();
        upstream.flush();
        if (clientInputEnded) {
            relay.inputEnded();
        } else {
            client.config().setAutoRead(true);
        }
        if (!RelayHandler.inputShutdown(upstream)) {
            upstream.config().setAutoRead(true);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf buf && connection != null) {
            early.add(buf);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void releaseEarly() {
        early.forEach(ReferenceCountUtil::release);
        early.clear();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        // The client left while the upstream was still connecting.
        releaseEarly();
        if (connection != null) {
            connection.finish("client-gone");
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            clientInputEnded = true;
        } else if (evt instanceof IdleStateEvent && connection != null) {
            releaseEarly();
            connection.reset("idle-timeout");
        }
    }

    /**
     * Over a limit: reset at once, as a refused connect would look to the client, with nothing read
     * and no upstream dialled. Logged at DEBUG (under overload a line per connection would add to
     * it); the counter and the metric carry it.
     */
    private void shedding(Channel client, ConnectionGate.Shed why) {
        context.counters().connectionShed();
        LOG.atDebug().addKeyValue("pod", context.pod()).addKeyValue("technique", context.technique())
                .log("client={}: shed, {} reached ({})", client.remoteAddress(), why,
                        why == ConnectionGate.Shed.POD_LIMIT ? context.gate().limits().perPod()
                                : context.gate().limits().perNode());
        try {
            client.config().setOption(ChannelOption.SO_LINGER, 0);
        } catch (ChannelException e) {
            // already closed
        }
        client.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.atDebug().addKeyValue("pod", context.pod())
                .log("client={}: {}", ctx.channel().remoteAddress(), cause.toString());
        releaseEarly();
        if (connection != null) {
            connection.reset("error");
        } else {
            ctx.close();
        }
    }
}
