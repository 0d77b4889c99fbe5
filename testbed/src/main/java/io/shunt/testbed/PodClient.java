package io.shunt.testbed;

import io.shunt.ffi.netns.NetNs;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A client that behaves like an application inside a pod: its socket is created inside the pod's
 * namespace, so routing, netfilter and any interception see it as the pod's own traffic.
 */
public final class PodClient {
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    private static final int MAX_HELLO = 1024;

    private PodClient() {
    }

    /** What one {@link #exchange} saw: the server's greeting (without newline), the bytes echoed back, and our local address. */
    public record Exchange(String helloLine, byte[] echoedBytes, InetSocketAddress localAddress) {
    }

    /**
     * Opens an IPv4 TCP socket inside {@code ns} and connects it to {@code target} within
     * {@code timeout}. The returned channel is blocking and owned by the caller.
     */
    public static SocketChannel connect(NetNs ns, InetSocketAddress target, Duration timeout) throws IOException {
        // Only the socket's creation needs the namespace; connecting from the home namespace is fine.
        SocketChannel channel = ns.run(() -> SocketChannel.open(StandardProtocolFamily.INET));
        try {
            channel.socket().connect(target, millis(timeout));
            return channel;
        } catch (IOException e) {
            channel.close();
            String what = "connect from " + ns + " to " + target + " (timeout " + timeout.toMillis() + " ms)";
            throw switch (e) {
                case SocketTimeoutException t -> withCause(new SocketTimeoutException(what + " timed out"), t);
                case ConnectException c -> withCause(new ConnectException(what + " failed: " + c.getMessage()
                        + " — is a server listening there, and is the route to it in place?"), c);
                default -> new IOException(what + " failed: " + e.getMessage(), e);
            };
        }
    }

    public static Exchange exchange(NetNs ns, InetSocketAddress target, byte[] payload) throws IOException {
        return exchange(ns, target, payload, DEFAULT_TIMEOUT);
    }

    /**
     * Talks to an {@link EchoServer}: connects from inside {@code ns}, reads the hello line, sends
     * {@code payload}, half-closes, and reads everything until the server closes. The whole
     * exchange is bounded by {@code timeout}; past it the socket is closed and a
     * {@link SocketTimeoutException} is thrown.
     */
    public static Exchange exchange(NetNs ns, InetSocketAddress target, byte[] payload, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        SocketChannel channel = connect(ns, target, timeout);
        try {
            InetSocketAddress local = (InetSocketAddress) channel.getLocalAddress();
            // Reads go through the socket adaptor, which honours SO_TIMEOUT; a plain channel read would not.
            channel.socket().setSoTimeout(millis(timeout));
            InputStream in = new BufferedInputStream(channel.socket().getInputStream());
            String hello;
            try {
                hello = readLine(in, target);
            } catch (SocketTimeoutException e) {
                throw timedOut(ns, target, timeout, "waiting for the hello line", e);
            }

            // Write on another thread while this one reads: a large payload echoed back would otherwise
            // fill both directions' buffers and deadlock.
            AtomicReference<IOException> writeFailure = new AtomicReference<>();
            Thread writer = Thread.ofPlatform().daemon().name("pod-client-writer-" + local).start(() -> {
                try {
                    ByteBuffer buffer = ByteBuffer.wrap(payload);
                    while (buffer.hasRemaining()) {
                        channel.write(buffer);
                    }
                    channel.shutdownOutput();
                } catch (IOException e) {
                    writeFailure.set(e);
                }
            });

            ByteArrayOutputStream echoed = new ByteArrayOutputStream(payload.length);
            byte[] buffer = new byte[64 * 1024];
            try {
                while (true) {
                    int n;
                    try {
                        n = in.read(buffer);
                    } catch (SocketTimeoutException e) {
                        throw timedOut(ns, target, timeout, "after receiving " + echoed.size() + " of " + payload.length + " bytes", e);
                    }
                    if (n < 0) {
                        break;
                    }
                    echoed.write(buffer, 0, n);
                    if (System.nanoTime() - deadline > 0) {
                        throw timedOut(ns, target, timeout, "after receiving " + echoed.size() + " of " + payload.length + " bytes", null);
                    }
                }
                if (!writer.join(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())))) {
                    throw timedOut(ns, target, timeout, "while sending " + payload.length + " bytes", null);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted during exchange with " + target, e);
            }
            if (writeFailure.get() != null) {
                throw new IOException("sending to " + target + " from " + ns + " failed: " + writeFailure.get().getMessage(),
                        writeFailure.get());
            }
            return new Exchange(hello, echoed.toByteArray(), local);
        } finally {
            // Also unblocks the writer thread when we leave early (timeout, reset).
            channel.close();
        }
    }

    private static String readLine(InputStream in, InetSocketAddress target) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0 && b != '\n') {
            if (line.size() == MAX_HELLO) {
                throw new IOException("the greeting from " + target + " is longer than " + MAX_HELLO + " bytes; is it an EchoServer?");
            }
            line.write(b);
        }
        if (b < 0) {
            throw new IOException(target + " closed the connection before sending a complete hello line (got '"
                    + line.toString(StandardCharsets.US_ASCII) + "'); is it an EchoServer?");
        }
        return line.toString(StandardCharsets.US_ASCII);
    }

    private static SocketTimeoutException timedOut(NetNs ns, InetSocketAddress target, Duration timeout, String when,
                                                   SocketTimeoutException cause) {
        SocketTimeoutException e = new SocketTimeoutException("exchange with " + target + " from " + ns + " exceeded "
                + timeout.toMillis() + " ms " + when + "; is the server an EchoServer, and does traffic get through?");
        if (cause != null) {
            e.initCause(cause);
        }
        return e;
    }

    private static int millis(Duration timeout) {
        long ms = timeout.toMillis();
        if (ms <= 0) {
            throw new IllegalArgumentException("timeout must be positive, not " + timeout);
        }
        return (int) Math.min(Integer.MAX_VALUE, ms);
    }

    private static <T extends IOException> T withCause(T exception, IOException cause) {
        exception.initCause(cause);
        return exception;
    }
}
