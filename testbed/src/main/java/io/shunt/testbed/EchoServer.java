package io.shunt.testbed;

import io.shunt.ffi.netns.NetNs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;

/**
 * A TCP echo server listening inside a network namespace. Per connection it first writes
 * {@code hello from <local ip:port>; you are <peer ip:port>\n}, then echoes every byte until the
 * peer half-closes, then half-closes its own side and closes.
 *
 * <p>The local address in the greeting is the accepted socket's, which for a transparent or
 * redirected connection is the destination the client actually reached. The listening socket is
 * created and bound inside the namespace; connections are served by one platform thread each, at
 * most {@code maxConnections} at a time (further clients wait in the listen backlog).
 */
public final class EchoServer implements AutoCloseable {
    public static final int DEFAULT_MAX_CONNECTIONS = 256;
    /** A peer silent this long is dropped, so an abandoned client cannot hold a slot forever. */
    static final Duration IDLE_TIMEOUT = Duration.ofMinutes(2);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final int BUFFER = 64 * 1024;

    private final ServerSocket listener;
    private final InetSocketAddress address;
    private final Semaphore slots;
    private final PeerLog peerLog = new PeerLog();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;

    private EchoServer(ServerSocket listener, int maxConnections) {
        this.listener = listener;
        this.address = (InetSocketAddress) listener.getLocalSocketAddress();
        this.slots = new Semaphore(maxConnections);
        // Created by the caller's thread outside any netns.run, so the thread starts in the home namespace.
        this.acceptor = Thread.ofPlatform().daemon().name("echo-accept-" + address).unstarted(this::acceptLoop);
    }

    public static EchoServer start(NetNs ns, InetSocketAddress bind) throws IOException {
        return start(ns, bind, DEFAULT_MAX_CONNECTIONS);
    }

    /** Listens on {@code bind} inside {@code ns}; the caller keeps ownership of {@code ns}. */
    public static EchoServer start(NetNs ns, InetSocketAddress bind, int maxConnections) throws IOException {
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections must be at least 1, not " + maxConnections);
        }
        EchoServer server = new EchoServer(Listeners.bindServerSocket(ns, bind, "echo server"), maxConnections);
        server.acceptor.start();
        return server;
    }

    /** The address the server listens on. */
    public InetSocketAddress address() {
        return address;
    }

    /** Peers of accepted connections, in accept order (the first {@value PeerLog#MAX_RECORDED}). */
    public List<InetSocketAddress> peers() {
        return peerLog.peers();
    }

    /** Connections accepted so far. */
    public long accepted() {
        return peerLog.accepted();
    }

    private void acceptLoop() {
        while (!closed) {
            Socket socket;
            try {
                slots.acquire();
            } catch (InterruptedException e) {
                return;
            }
            try {
                socket = listener.accept();
            } catch (IOException e) {
                slots.release();
                if (closed) {
                    return;
                }
                // A failed accept (e.g. the peer reset before we got to it) does not stop the server.
                continue;
            }
            peerLog.record((InetSocketAddress) socket.getRemoteSocketAddress());
            open.add(socket);
            Thread worker = Thread.ofPlatform().daemon().name("echo-" + socket.getRemoteSocketAddress()).unstarted(() -> {
                try {
                    serve(socket);
                } finally {
                    open.remove(socket);
                    threads.remove(Thread.currentThread());
                    slots.release();
                }
            });
            threads.add(worker);
            if (closed) {
                // close() may have swept the open sockets before this one was added.
                closeQuietly(socket);
            }
            worker.start();
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            socket.setSoTimeout((int) IDLE_TIMEOUT.toMillis());
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            out.write(greeting(socket).getBytes(StandardCharsets.US_ASCII));
            out.flush();
            byte[] buffer = new byte[BUFFER];
            int n;
            while ((n = in.read(buffer)) >= 0) {
                out.write(buffer, 0, n);
            }
            out.flush();
            socket.shutdownOutput();
        } catch (IOException e) {
            // Peer reset, idle timeout, or close(): the connection is over either way.
        }
    }

    static String greeting(Socket socket) {
        return "hello from " + hostPort((InetSocketAddress) socket.getLocalSocketAddress())
                + "; you are " + hostPort((InetSocketAddress) socket.getRemoteSocketAddress()) + "\n";
    }

    static String hostPort(InetSocketAddress address) {
        return address.getAddress().getHostAddress() + ":" + address.getPort();
    }

    /** Stops accepting, closes every connection and waits for the server's threads to end. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(listener);
        acceptor.interrupt(); // wakes it if it waits for a free slot
        open.forEach(EchoServer::closeQuietly);
        Listeners.join(acceptor, threads, STOP_TIMEOUT, "echo server " + address);
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            // closing to unblock a thread; the descriptor is released regardless
        }
    }

    @Override
    public String toString() {
        return "echo server " + hostPort(address);
    }
}
