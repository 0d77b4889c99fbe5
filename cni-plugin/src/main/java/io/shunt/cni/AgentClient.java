package io.shunt.cni;

import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniWire;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * One request to the agent over its CNI Unix socket, framed by {@link CniWire}: connect, send one
 * message, read one reply, close. The channel is non-blocking and every wait is bounded by one
 * deadline, so connect, send and reply together never take longer than the timeout.
 */
public final class AgentClient {
    private final Path socket;
    private final Duration timeout;

    public AgentClient(Path socket, Duration timeout) {
        this.socket = socket;
        this.timeout = timeout;
    }

    /** Why the agent could not answer. */
    public enum Failure {
        /** No socket file, or nobody listens on it: the agent is not running. */
        NOT_RUNNING,
        /** Connected, but no complete reply within the timeout. */
        TIMEOUT,
        /** Anything else: refused by permissions, closed early, an unreadable reply. */
        BROKEN
    }

    /** The agent did not answer; the message names the socket and the cause. */
    public static final class AgentException extends IOException {
        private final Failure failure;

        AgentException(Failure failure, String message, Throwable cause) {
            super(message, cause);
            this.failure = failure;
        }

        public Failure failure() {
            return failure;
        }
    }

    public Path socket() {
        return socket;
    }

    public Duration timeout() {
        return timeout;
    }

    public CniReply call(CniRequest request) throws AgentException {
        ByteArrayOutputStream encoded = new ByteArrayOutputStream(512);
        try {
            CniWire.write(encoded, request);
        } catch (IOException e) {
            throw new AgentException(Failure.BROKEN, "could not encode the " + request.command() + " request: "
                    + e.getMessage(), e);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
             Selector selector = Selector.open()) {
            channel.configureBlocking(false);
            SelectionKey key = channel.register(selector, 0);
            connect(channel, key, deadline);
            return exchange(channel, key, encoded.toByteArray(), deadline);
        } catch (AgentException e) {
            throw e;
        } catch (IOException e) {
            throw new AgentException(Failure.BROKEN, "could not talk to the shunt agent at " + socket + ": "
                    + e.getMessage(), e);
        }
    }

    /** Sends the request on a connected channel (non-blocking, registered with {@code key}) and reads the reply. */
    CniReply exchange(SocketChannel channel, SelectionKey key, byte[] request, long deadline) throws IOException {
        byte[] reply;
        try {
            send(channel, key, ByteBuffer.wrap(request), deadline);
            reply = receive(channel, key, deadline);
        } catch (AgentException e) {
            throw e;
        } catch (IOException sendFailed) {
            // A busy or stopping agent answers at once and closes without reading the request, so
            // the send fails; its answer (e.g. "agent busy", code 11) is still there to read.
            reply = answerLeftBehind(channel, key, deadline).orElseThrow(() -> sendFailed);
        }
        try {
            return CniWire.read(new ByteArrayInputStream(reply), CniReply.class);
        } catch (IOException e) {
            throw new AgentException(Failure.BROKEN, "the shunt agent at " + socket + " sent an unreadable reply: "
                    + e.getMessage(), e);
        }
    }

    private void connect(SocketChannel channel, SelectionKey key, long deadline) throws IOException {
        try {
            if (!channel.connect(UnixDomainSocketAddress.of(socket))) {
                await(key, SelectionKey.OP_CONNECT, deadline, "connecting");
                channel.finishConnect();
            }
        } catch (AgentException e) {
            throw e;
        } catch (ConnectException e) {
            throw new AgentException(Failure.NOT_RUNNING, "the shunt agent is not running: nothing listens on "
                    + socket + " (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            if (!Files.exists(socket)) {
                throw new AgentException(Failure.NOT_RUNNING, "the shunt agent is not running: no socket at " + socket, e);
            }
            throw new AgentException(Failure.BROKEN, "could not connect to the shunt agent at " + socket + ": "
                    + e.getMessage(), e);
        }
    }

    private Optional<byte[]> answerLeftBehind(SocketChannel channel, SelectionKey key, long deadline) {
        try {
            return Optional.of(receive(channel, key, deadline));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private void send(SocketChannel channel, SelectionKey key, ByteBuffer bytes, long deadline) throws IOException {
        while (bytes.hasRemaining()) {
            if (channel.write(bytes) == 0) {
                await(key, SelectionKey.OP_WRITE, deadline, "sending the request");
            }
        }
    }

    /** Reads up to the reply's newline, or the end of the stream. */
    private byte[] receive(SocketChannel channel, SelectionKey key, long deadline) throws IOException {
        ByteArrayOutputStream reply = new ByteArrayOutputStream(512);
        ByteBuffer buffer = ByteBuffer.allocate(4096);
        while (true) {
            buffer.clear();
            int n = channel.read(buffer);
            if (n < 0) {
                if (reply.size() == 0) {
                    throw new AgentException(Failure.BROKEN, "the shunt agent at " + socket
                            + " closed the connection without a reply", null);
                }
                return reply.toByteArray();
            }
            if (n == 0) {
                await(key, SelectionKey.OP_READ, deadline, "waiting for its reply");
                continue;
            }
            for (int i = 0; i < n; i++) {
                if (buffer.get(i) == '\n') {
                    reply.write(buffer.array(), 0, i + 1);
                    return reply.toByteArray();
                }
            }
            if (reply.size() + n > CniWire.MAX_MESSAGE_BYTES) {
                throw new AgentException(Failure.BROKEN, "the shunt agent at " + socket + " sent a reply over "
                        + CniWire.MAX_MESSAGE_BYTES + " bytes", null);
            }
            reply.write(buffer.array(), 0, n);
        }
    }

    private void await(SelectionKey key, int op, long deadline, String what) throws IOException {
        key.interestOps(op);
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AgentException(Failure.TIMEOUT, "the shunt agent at " + socket + " did not answer within "
                        + seconds(timeout) + " (timeoutSeconds) while " + what, null);
            }
            // select(0) would wait forever: round the remaining time up to at least 1 ms.
            key.selector().select(Math.max(1, (left + 999_999) / 1_000_000));
            if (key.selector().selectedKeys().remove(key) && (key.readyOps() & op) != 0) {
                return;
            }
        }
    }

    static String seconds(Duration d) {
        long millis = d.toMillis();
        return millis % 1000 == 0 ? millis / 1000 + " s" : millis / 1000.0 + " s";
    }
}
