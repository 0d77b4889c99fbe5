package io.shunt.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.uring.IoUringSocketChannel;
import io.shunt.proxy.nio.FdNioServerSocketChannel;
import io.shunt.proxy.nio.FdNioSocketChannel;
import io.shunt.proxy.nio.NioFds;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import java.util.Locale;

/**
 * The Netty transports the engine can run on, best first. Each must expose the socket fd, which
 * the engine needs for SO_MARK and SO_ORIGINAL_DST.
 */
public enum Transport {
    IO_URING("io_uring") {
        @Override
        public boolean isAvailable() {
            return IoUring.isAvailable();
        }

        @Override
        public String skMsgQueueDefect() {
            return IoUring.isPollAddMultishotEnabled() ? "Netty's io_uring transport runs with multishot POLLIN polls ("
                    + POLL_ADD_MULTISHOT_PROPERTY + " is not false): a socket whose bytes arrive by sk_msg redirection "
                    + "never reports IORING_CQE_F_SOCK_NONEMPTY, Netty takes it for drained after each read, and the "
                    + "bytes still queued are read only at the next wakeup, which may never come (measured: a 1 MiB "
                    + "transfer stalled at 100 KiB). The agent sets the property to false itself; a JVM that embeds "
                    + "the engine must pass -D" + POLL_ADD_MULTISHOT_PROPERTY + "=false, or use --transport nio" : "";
        }

        @Override
        public String unavailabilityCause() {
            return IoUring.isAvailable() ? "" : String.valueOf(IoUring.unavailabilityCause());
        }

        @Override
        IoHandlerFactory ioHandlerFactory() {
            return IoUringIoHandler.newFactory();
        }

        @Override
        ServerChannel newServerChannel() {
            return new IoUringServerSocketChannel();
        }

        @Override
        Channel newSocketChannel() {
            return new IoUringSocketChannel();
        }
    },
    EPOLL("epoll") {
        @Override
        public boolean isAvailable() {
            return Epoll.isAvailable() && EpollDefect.reason().isEmpty();
        }

        @Override
        public String unavailabilityCause() {
            if (!Epoll.isAvailable()) {
                return String.valueOf(Epoll.unavailabilityCause());
            }
            return EpollDefect.reason().orElse("");
        }

        @Override
        IoHandlerFactory ioHandlerFactory() {
            return EpollIoHandler.newFactory();
        }

        @Override
        ServerChannel newServerChannel() {
            return new EpollServerSocketChannel();
        }

        @Override
        Channel newSocketChannel() {
            return new EpollSocketChannel();
        }
    },
    /**
     * The JDK's own selector: slower than the native transports, but needs nothing from the
     * kernel beyond sockets, so it runs where io_uring is blocked (e.g. by a seccomp profile).
     */
    NIO("nio") {
        @Override
        public boolean isAvailable() {
            return NioFds.isAvailable();
        }

        @Override
        public String unavailabilityCause() {
            return NioFds.unavailabilityCause();
        }

        @Override
        IoHandlerFactory ioHandlerFactory() {
            return NioIoHandler.newFactory();
        }

        @Override
        ServerChannel newServerChannel() {
            try {
                return new FdNioServerSocketChannel(ServerSocketChannel.open(StandardProtocolFamily.INET));
            } catch (IOException e) {
                throw new ChannelException("cannot open a listening socket: " + e.getMessage(), e);
            }
        }

        @Override
        Channel newSocketChannel() {
            try {
                return new FdNioSocketChannel(SocketChannel.open(StandardProtocolFamily.INET));
            } catch (IOException e) {
                throw new ChannelException("cannot open a socket: " + e.getMessage(), e);
            }
        }
    };

    private final String id;

    Transport(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public abstract boolean isAvailable();

    /**
     * Netty's system property that turns io_uring's multishot POLLIN polls on or off; read once,
     * when Netty's io_uring class initialises.
     */
    public static final String POLL_ADD_MULTISHOT_PROPERTY = "io.netty.iouring.pollAddMultishotEnabled";

    /**
     * Why this transport would stall on sockets whose bytes arrive by sk_msg redirection (the
     * sockmap technique), or empty when it reads them correctly. Such bytes sit in the socket's
     * psock queue, which {@code tcp_bpf_recvmsg} drains without reporting how much is left.
     */
    public String skMsgQueueDefect() {
        return "";
    }

    /**
     * Makes Netty's io_uring transport arm one-shot POLLIN polls (re-armed after each read loop,
     * so a poll armed while bytes are queued reports them at once) unless the operator chose
     * otherwise. Must run before anything touches Netty's io_uring classes: the agent's first act.
     */
    public static void preferOneShotPollIn() {
        if (System.getProperty(POLL_ADD_MULTISHOT_PROPERTY) == null) {
            System.setProperty(POLL_ADD_MULTISHOT_PROPERTY, "false");
        }
    }

    public abstract String unavailabilityCause();

    abstract IoHandlerFactory ioHandlerFactory();

    /** Creates the socket in the calling thread's network namespace. */
    abstract ServerChannel newServerChannel();

    /** Creates the socket in the calling thread's network namespace. */
    abstract Channel newSocketChannel();

    public static Transport byId(String id) {
        for (Transport t : values()) {
            if (t.id.equals(id.toLowerCase(Locale.ROOT))) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown transport '" + id + "'; expected io_uring, epoll or nio");
    }

    /**
     * The best transport available here: io_uring, else epoll, else NIO.
     *
     * @throws IllegalStateException when none can run, with every cause
     */
    public static Transport best() {
        StringBuilder causes = new StringBuilder();
        for (Transport t : values()) {
            if (t.isAvailable()) {
                return t;
            }
            causes.append(causes.isEmpty() ? "" : "; ").append(t.id).append(": ").append(t.unavailabilityCause());
        }
        throw new IllegalStateException("no usable Netty transport: " + causes);
    }
}
