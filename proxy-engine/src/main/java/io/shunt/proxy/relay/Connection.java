package io.shunt.proxy.relay;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOption;
import io.shunt.proxy.ChannelFds;
import io.shunt.proxy.ConnectionSummary;
import io.shunt.proxy.ReadCredit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * One hijacked connection: the client side and, once connected, the upstream side. Both channels
 * run on the same event loop, so this state is only ever touched by one thread.
 */
public final class Connection {
    private static final Logger LOG = LoggerFactory.getLogger(Connection.class);
    /** On the client channel, for listing live connections. */
    public static final AttributeKey<Connection> KEY = AttributeKey.valueOf("shunt.connection");

    private final RelayContext context;
    private final Channel client;
    private final long startNanos = System.nanoTime();
    private Channel upstream;
    private InetSocketAddress originalDestination;
    private long bytesFromClient;
    private long bytesFromUpstream;
    private boolean clientInputDone;
    private boolean upstreamInputDone;
    private boolean finished;
    private final ReadCredit.Grant readCredit;
    private long creditReported;

    Connection(RelayContext context, Channel client) {
        this.context = context;
        this.client = client;
        context.counters().connectionAccepted();
        client.attr(KEY).set(this);
        this.readCredit = context.readCredit() == ReadCredit.NONE ? null : context.readCredit().open(
                ChannelFds.fd(client), (InetSocketAddress) client.localAddress(), (InetSocketAddress) client.remoteAddress());
    }

    /**
     * The connection as it is now, with outcome {@code open}. Its state belongs to the event loop:
     * call this on {@code client().eventLoop()}.
     */
    public ConnectionSummary snapshot() {
        return summary("open");
    }

    public Channel client() {
        return client;
    }

    RelayContext context() {
        return context;
    }

    void destination(InetSocketAddress destination) {
        this.originalDestination = destination;
    }

    void upstream(Channel upstream) {
        this.upstream = upstream;
    }

    void relayed(boolean fromClient, int bytes) {
        if (fromClient) {
            bytesFromClient += bytes;
            if (readCredit != null && bytesFromClient - creditReported >= ReadCredit.REPORT_EVERY) {
                reportRead();
            }
        } else {
            bytesFromUpstream += bytes;
        }
        context.counters().bytesRelayed(fromClient, bytes);
    }

    /** One side stopped sending; returns true when both have, i.e. the connection is done. */
    boolean inputDone(boolean fromClient) {
        if (fromClient) {
            clientInputDone = true;
        } else {
            upstreamInputDone = true;
        }
        return clientInputDone && upstreamInputDone;
    }

    /** A failed report only costs the client the fast path: the kernel side then sends it through TCP. */
    private void reportRead() {
        try {
            readCredit.read(bytesFromClient);
            creditReported = bytesFromClient;
        } catch (IOException e) {
            LOG.atDebug().addKeyValue("pod", context.pod()).log("reporting bytes read failed: {}", e.toString());
        }
    }

    /** Ends the connection after flushing what is queued, reporting it once. */
    void finish(String outcome) {
        if (finished) {
            return;
        }
        finished = true;
        if (readCredit != null) {
            readCredit.close();
        }
        flushAndClose(client);
        if (upstream != null) {
            flushAndClose(upstream);
        }
        report(outcome);
    }

    /** Ends the connection with a TCP reset to the client, as a refused or unreachable upstream would. */
    void reset(String outcome) {
        if (finished) {
            return;
        }
        finished = true;
        if (readCredit != null) {
            readCredit.close();
        }
        try {
            if (client.isOpen()) {
                // Setting SO_LINGER on a channel that closed meanwhile throws; the close must still happen.
                client.config().setOption(ChannelOption.SO_LINGER, 0);
            }
        } catch (ChannelException e) {
            // already closed: there is nobody left to reset
        } finally {
            client.close();
            if (upstream != null) {
                upstream.close();
            }
            report(outcome);
        }
    }

    private void report(String outcome) {
        context.counters().connectionEnded();
        context.gate().release();
        context.observer().connectionClosed(summary(outcome));
    }

    private ConnectionSummary summary(String outcome) {
        return new ConnectionSummary(context.pod(), context.technique(), context.direction(),
                (InetSocketAddress) client.remoteAddress(), originalDestination, bytesFromClient, bytesFromUpstream,
                Duration.ofNanos(System.nanoTime() - startNanos), outcome);
    }

    private static void flushAndClose(Channel ch) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            ch.close();
        }
    }
}
