package io.shunt.proxy.relay;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves bytes from one side of a connection to the other. Backpressure: when the other side's
 * outbound buffer passes its high-water mark, this side stops reading until it drains, so the
 * engine never buffers more than the water mark per direction. Half-close: when this side stops
 * sending, the other side's output is shut down after what is queued, and the connection ends
 * once both directions are done.
 */
final class RelayHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(RelayHandler.class);

    private final Connection connection;
    private final Channel peer;
    private final boolean fromClient;

    RelayHandler(Connection connection, Channel peer, boolean fromClient) {
        this.connection = connection;
        this.peer = peer;
        this.fromClient = fromClient;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        connection.relayed(fromClient, buf.readableBytes());
        peer.write(buf, peer.voidPromise());
        if (!peer.isWritable()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        peer.flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // A peer whose input has ended has nothing left to read; turning reading back on would
        // also re-register it with epoll, which Netty 4.2.18 gets wrong for such a channel.
        if (ctx.channel().isWritable() && !inputShutdown(peer)) {
            peer.config().setAutoRead(true);
        }
    }

    static boolean inputShutdown(Channel ch) {
        return ch instanceof DuplexChannel duplex && duplex.isInputShutdown();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            inputEnded();
        } else if (evt instanceof IdleStateEvent) {
            connection.reset("idle-timeout");
        }
    }

    /** This side sent its FIN: pass it on after what is queued, or end the connection if both have. */
    void inputEnded() {
        if (connection.inputDone(fromClient)) {
            connection.finish("relayed");
        } else {
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) f -> {
                if (peer instanceof DuplexChannel duplex && peer.isActive()) {
                    duplex.shutdownOutput();
                }
            });
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        connection.finish("relayed");
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.atDebug().addKeyValue("pod", connection.context().pod())
                .log("{} side: {}", fromClient ? "client" : "upstream", cause.toString());
        connection.reset("error");
    }
}
