package io.shunt.proxy;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * For a technique whose kernel side puts a client's bytes into the proxy's socket without TCP's
 * flow control (sockmap's sk_msg redirection): the engine tells it how much of each client's bytes
 * it has read, so the kernel side can keep what is queued and unread within a window. Called on the
 * connection's event loop; must not block.
 */
@FunctionalInterface
public interface ReadCredit {
    /** How often, in bytes read from a client, the engine reports: the kernel side's window must allow for it. */
    int REPORT_EVERY = 64 << 10;

    /**
     * The reporter for one accepted connection, or null when this connection needs none.
     *
     * @param fd     the accepted socket's fd (valid for the connection's life)
     * @param local  its local address (the listener's)
     * @param remote its remote address (the client's)
     */
    Grant open(int fd, InetSocketAddress local, InetSocketAddress remote);

    /** One connection's reporter. */
    interface Grant {
        /** The proxy has read {@code total} bytes from the client so far. */
        void read(long total) throws IOException;

        /** The connection ended. */
        void close();
    }

    ReadCredit NONE = (fd, local, remote) -> null;
}
