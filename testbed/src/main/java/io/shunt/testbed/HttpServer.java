package io.shunt.testbed;

import io.shunt.ffi.netns.NetNs;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A tiny HTTP/1.1 server for keep-alive load tests (wrk): every request gets {@code 200 OK} with a
 * fixed {@value #BODY_LENGTH}-byte body, and the connection stays open. Pipelined and partially
 * received requests are handled; request bodies with a Content-Length are skipped; chunked bodies
 * are refused with 501.
 *
 * <p>The listening socket is created and bound inside the namespace; one selector thread (a
 * platform thread started outside any namespace) serves all connections, at most
 * {@code maxConnections} at once: above that, accepting pauses and clients wait in the backlog.
 */
public final class HttpServer implements AutoCloseable {
    public static final int BODY_LENGTH = 64;
    public static final int DEFAULT_MAX_CONNECTIONS = 1024;
    static final String BODY = "shunt testbed: this fixed body is exactly sixty-four bytes long\n";

    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final byte[] OK = response("200 OK", true, BODY);
    private static final byte[] OK_THEN_CLOSE = response("200 OK", false, BODY);
    private static final byte[] BAD_REQUEST = response("400 Bad Request", false, "");
    private static final byte[] HEAD_TOO_LARGE = response("431 Request Header Fields Too Large", false, "");
    private static final byte[] CHUNKED_UNSUPPORTED = response("501 Not Implemented", false, "");

    private final ServerSocketChannel listener;
    private final InetSocketAddress address;
    private final Selector selector;
    private final SelectionKey acceptKey;
    private final int maxConnections;
    private final PeerLog peerLog = new PeerLog();
    private final AtomicLong requests = new AtomicLong();
    private final Thread loop;
    /** Touched by the selector thread only. */
    private int openConnections;
    private volatile boolean closed;

    private HttpServer(ServerSocketChannel listener, int maxConnections) throws IOException {
        if (BODY.length() != BODY_LENGTH) {
            throw new AssertionError("body is " + BODY.length() + " bytes, not " + BODY_LENGTH);
        }
        this.listener = listener;
        this.address = (InetSocketAddress) listener.getLocalAddress();
        this.maxConnections = maxConnections;
        this.selector = Selector.open();
        listener.configureBlocking(false);
        this.acceptKey = listener.register(selector, SelectionKey.OP_ACCEPT);
        this.loop = Thread.ofPlatform().daemon().name("http-" + EchoServer.hostPort(address)).unstarted(this::run);
    }

    public static HttpServer start(NetNs ns, InetSocketAddress bind) throws IOException {
        return start(ns, bind, DEFAULT_MAX_CONNECTIONS);
    }

    /** Listens on {@code bind} inside {@code ns}; the caller keeps ownership of {@code ns}. */
    public static HttpServer start(NetNs ns, InetSocketAddress bind, int maxConnections) throws IOException {
        if (maxConnections < 1) {
            throw new IllegalArgumentException("maxConnections must be at least 1, not " + maxConnections);
        }
        ServerSocketChannel listener = Listeners.bindServerChannel(ns, bind, "http server");
        HttpServer server;
        try {
            server = new HttpServer(listener, maxConnections);
        } catch (IOException | RuntimeException e) {
            listener.close();
            throw e;
        }
        server.loop.start();
        return server;
    }

    public InetSocketAddress address() {
        return address;
    }

    /** Peers of accepted connections, in accept order (the first {@value PeerLog#MAX_RECORDED}). */
    public List<InetSocketAddress> peers() {
        return peerLog.peers();
    }

    public long accepted() {
        return peerLog.accepted();
    }

    /** Requests answered with 200 so far. */
    public long requests() {
        return requests.get();
    }

    private void run() {
        try {
            while (!closed) {
                selector.select();
                Set<SelectionKey> ready = selector.selectedKeys();
                for (SelectionKey key : ready) {
                    if (key == acceptKey) {
                        acceptAll();
                    } else {
                        serve(key);
                    }
                }
                ready.clear();
            }
        } catch (IOException | ClosedSelectorException e) {
            if (!closed) {
                System.err.println(this + " stopped: " + e);
            }
        } finally {
            for (SelectionKey key : selector.keys()) {
                closeQuietly(key.channel());
            }
            closeQuietly(selector);
            closeQuietly(listener);
        }
    }

    private void acceptAll() throws IOException {
        while (openConnections < maxConnections) {
            SocketChannel channel = listener.accept();
            if (channel == null) {
                return;
            }
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            peerLog.record((InetSocketAddress) channel.getRemoteAddress());
            channel.register(selector, SelectionKey.OP_READ, new Connection(channel));
            openConnections++;
        }
        // Full: stop accepting until a connection ends; the kernel queues newcomers in the backlog.
        acceptKey.interestOps(0);
    }

    private void serve(SelectionKey key) {
        Connection connection = (Connection) key.attachment();
        try {
            if (key.isReadable() && connection.channel.read(connection.in) < 0) {
                connection.eof = true;
            }
            connection.answerBufferedRequests();
            connection.flush();
            if (connection.finished()) {
                end(key);
            } else {
                key.interestOps(connection.hasPendingOutput() ? SelectionKey.OP_WRITE
                        : connection.canRead() ? SelectionKey.OP_READ : 0);
            }
        } catch (IOException e) {
            // Reset by the peer, most likely; the connection is over.
            end(key);
        }
    }

    private void end(SelectionKey key) {
        key.cancel();
        closeQuietly(key.channel());
        openConnections--;
        if (acceptKey.isValid() && acceptKey.interestOps() == 0) {
            acceptKey.interestOps(SelectionKey.OP_ACCEPT);
        }
    }

    /** Stops the selector thread, closes every connection and the listener, and waits for the thread. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        selector.wakeup();
        Listeners.join(loop, List.of(), STOP_TIMEOUT, toString());
    }

    @Override
    public String toString() {
        return "http server " + EchoServer.hostPort(address);
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            // shutting down; the descriptor is released regardless
        }
    }

    private static byte[] response(String status, boolean keepAlive, String body) {
        return ("HTTP/1.1 " + status + "\r\n"
                + "Content-Type: text/plain\r\n"
                + "Content-Length: " + body.length() + "\r\n"
                + (keepAlive ? "" : "Connection: close\r\n")
                + "\r\n" + body).getBytes(StandardCharsets.US_ASCII);
    }

    /** One client connection: buffered input, queued responses, and where the request stream stands. */
    private final class Connection {
        private static final int MAX_RESPONSE = OK_THEN_CLOSE.length + HEAD_TOO_LARGE.length;

        final SocketChannel channel;
        /** A request head must fit here; larger ones are answered 431. */
        final ByteBuffer in = ByteBuffer.allocate(16 * 1024);
        /** Responses waiting to be written; when it is full, reading pauses (backpressure on pipelining). */
        final ByteBuffer out = ByteBuffer.allocate(64 * 1024);
        /** Body bytes of the current request still to be skipped. */
        long bodyLeft;
        /** A response that ends the connection has been queued; ignore further input. */
        boolean closing;
        boolean eof;

        Connection(SocketChannel channel) {
            this.channel = channel;
        }

        /** Answers every complete request in {@link #in} for which there is room in {@link #out}. */
        void answerBufferedRequests() {
            in.flip();
            try {
                while (true) {
                    if (bodyLeft > 0) {
                        int skip = (int) Math.min(bodyLeft, in.remaining());
                        in.position(in.position() + skip);
                        bodyLeft -= skip;
                        if (bodyLeft > 0) {
                            return;
                        }
                    }
                    if (closing) {
                        in.position(in.limit());
                        return;
                    }
                    skipEmptyLines();
                    if (out.remaining() < MAX_RESPONSE) {
                        return;
                    }
                    int end = HttpRequestHead.endOfHead(in);
                    if (end < 0) {
                        if (in.remaining() == in.capacity()) {
                            answer(HEAD_TOO_LARGE, true);
                        }
                        return;
                    }
                    byte[] head = new byte[end - in.position()];
                    in.get(head);
                    answer(HttpRequestHead.parse(head));
                }
            } finally {
                in.compact();
                if (eof) {
                    // Whatever is left is an incomplete request nobody will finish.
                    closing = true;
                }
            }
        }

        private void answer(HttpRequestHead head) {
            if (!head.valid()) {
                answer(BAD_REQUEST, true);
            } else if (head.chunked()) {
                answer(CHUNKED_UNSUPPORTED, true);
            } else {
                requests.incrementAndGet();
                answer(head.keepAlive() ? OK : OK_THEN_CLOSE, !head.keepAlive());
                bodyLeft = head.contentLength();
            }
        }

        private void answer(byte[] response, boolean last) {
            out.put(response);
            closing |= last;
        }

        /** Robust servers ignore blank lines between pipelined requests (RFC 9112, section 2.2). */
        private void skipEmptyLines() {
            while (in.remaining() >= 2 && in.get(in.position()) == '\r' && in.get(in.position() + 1) == '\n') {
                in.position(in.position() + 2);
            }
        }

        void flush() throws IOException {
            out.flip();
            try {
                channel.write(out);
            } finally {
                out.compact();
            }
        }

        boolean hasPendingOutput() {
            return out.position() > 0;
        }

        boolean canRead() {
            return !closing && !eof && in.hasRemaining();
        }

        boolean finished() {
            return closing && !hasPendingOutput();
        }
    }
}
