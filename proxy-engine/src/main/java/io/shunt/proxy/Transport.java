package io.shunt.proxy;

import io.netty.channel.Channel;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;

import java.util.Locale;

/**
 * The Netty transports the engine can run on. Both expose the socket fd, which the engine needs
 * for SO_MARK and SO_ORIGINAL_DST; NIO does not, so it is not offered: interception is Linux-only.
 */
public enum Transport {
    IO_URING("io_uring") {
        @Override
        public boolean isAvailable() {
            return IoUring.isAvailable();
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
    };

    private final String id;

    Transport(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public abstract boolean isAvailable();

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
        throw new IllegalArgumentException("unknown transport '" + id + "'; expected io_uring or epoll");
    }

    /**
     * The best transport available here, io_uring first.
     *
     * @throws IllegalStateException when neither io_uring nor epoll can run, with both causes
     */
    public static Transport best() {
        if (IO_URING.isAvailable()) {
            return IO_URING;
        }
        if (EPOLL.isAvailable()) {
            return EPOLL;
        }
        throw new IllegalStateException("no usable Netty transport: io_uring: " + IO_URING.unavailabilityCause()
                + "; epoll: " + EPOLL.unavailabilityCause());
    }
}
