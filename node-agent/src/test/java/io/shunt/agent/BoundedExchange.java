package io.shunt.agent;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.SocketException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One request to an agent endpoint on a unix socket, for the endpoints' fuzz tests: sends the
 * bytes, ends the stream, and reads the reply until the endpoint closes. A reply that takes longer
 * than {@code within} fails the input instead of hanging the build.
 */
public final class BoundedExchange implements AutoCloseable {
    private final Duration within;
    private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("fuzz-watchdog").factory());

    public BoundedExchange(Duration within) {
        this.within = within;
    }

    public byte[] exchange(Path socket, byte[] bytes) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ScheduledFuture<?> cutOff = watchdog.schedule(() -> closeQuietly(channel), within.toMillis(),
                    TimeUnit.MILLISECONDS);
            try {
                ByteBuffer out = ByteBuffer.wrap(bytes);
                while (out.hasRemaining()) {
                    channel.write(out);
                }
                channel.shutdownOutput();
                ByteArrayOutputStream in = new ByteArrayOutputStream();
                ByteBuffer buffer = ByteBuffer.allocate(4096);
                try {
                    while (channel.read(buffer.clear()) >= 0) {
                        in.write(buffer.array(), 0, buffer.position());
                    }
                } catch (SocketException reset) {
                    // the endpoint closed with bytes of ours unread (after the request line): the reply
                    // came before the reset, and a client reading up to its newline never sees the reset
                }
                return in.toByteArray();
            } catch (ClosedChannelException e) {
                throw new AssertionError("no complete reply within " + within.toMillis() + " ms", e);
            } finally {
                cutOff.cancel(false);
            }
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // cutting off a connection that hangs
        }
    }

    @Override
    public void close() {
        watchdog.shutdownNow();
    }
}
