package io.shunt.agent.cni;

import io.shunt.agent.socket.RootOnlySocket;
import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniWire;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The agent's side of the shunt-cni plugin: a root-only Unix socket on which the plugin sends one
 * {@link CniRequest} per CNI call and waits for the {@link CniReply} (framing: {@link CniWire}).
 *
 * <h2>Threads</h2>
 * One platform thread ({@code shunt-cni-io}) accepts connections, reads requests and writes
 * replies, all non-blocking, each phase bounded by {@code requestTimeout}: a slow or silent client
 * costs a registered channel until its deadline, never a thread. A complete request goes to a pool
 * of at most {@code maxConcurrent} platform threads ({@code shunt-cni-handler-N}) that call the
 * {@link CniHandler}; pool threads are created by the I/O thread, so they start in the agent's own
 * network namespace. The handler's own work is not time-bounded here (an ADD installs rules
 * synchronously); the plugin's timeout bounds what the runtime waits.
 *
 * <h2>Answers the endpoint gives on its own</h2>
 * <ul>
 *   <li>{@link CniReply#TRY_AGAIN_LATER} "agent busy" when {@code maxConcurrent} requests are in the
 *       handler already: nothing queues without bound, the runtime retries.</li>
 *   <li>While {@link CniHandler#ready()} is false: {@link CniReply#TRY_AGAIN_LATER} to ADD, CHECK,
 *       GC and also DEL (an agent that has not loaded its pods cannot release one; the plugin
 *       decides whether a DEL the agent cannot serve fails the runtime), and
 *       {@link CniReply#PLUGIN_NOT_AVAILABLE} to STATUS.</li>
 *   <li>{@link CniReply#DECODING_FAILURE} for a request that is not JSON of a {@link CniRequest},
 *       or is over {@link CniWire#MAX_MESSAGE_BYTES}; {@link CniReply#INVALID_ENVIRONMENT} for one
 *       without the container id or netns its command needs.</li>
 *   <li>{@link CniReply#IO_FAILURE} with the exception's message when the handler throws.</li>
 * </ul>
 * No request, however malformed, stops the endpoint. Each request is logged on one line at INFO:
 * command, short container id, pod, outcome and duration.
 */
public final class CniEndpoint implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CniEndpoint.class);
    /** How long {@link #close()} lets requests already in the handler finish. */
    public static final Duration DEFAULT_CLOSE_GRACE = Duration.ofSeconds(10);
    static final String BUSY = "agent busy";
    /** Connections still sending their request or reading their reply, beyond those in the handler. */
    static final int MAX_WAITING_CONNECTIONS = 128;
    private static final int ACCEPTS_PER_ROUND = 64;
    private static final int FIRST_BUFFER_BYTES = 4096;
    private static final long ACCEPT_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long NO_DEADLINE = Long.MAX_VALUE;

    private final RootOnlySocket file;
    private final ServerSocketChannel server;
    private final Selector selector;
    private final SelectionKey acceptKey;
    private final CniHandler handler;
    private final int maxConcurrent;
    private final Duration requestTimeout;
    private final Semaphore permits;
    private final ThreadPoolExecutor workers;
    private final Thread io;
    /** Replies computed on handler threads, for the I/O thread to write. */
    private final Queue<Runnable> toIo = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean closeCalled = new AtomicBoolean();
    private volatile boolean closing;
    private volatile long closeDeadline;

    // owned by the I/O thread
    private final Set<Connection> connections = new HashSet<>();
    private long acceptPausedUntil = NO_DEADLINE;

    private CniEndpoint(RootOnlySocket.Bound bound, Selector selector, SelectionKey acceptKey, CniHandler handler,
                        int maxConcurrent, Duration requestTimeout) {
        this.file = bound.file();
        this.server = bound.server();
        this.selector = selector;
        this.acceptKey = acceptKey;
        this.handler = handler;
        this.maxConcurrent = maxConcurrent;
        this.requestTimeout = requestTimeout;
        this.permits = new Semaphore(maxConcurrent);
        // at most maxConcurrent tasks exist (the semaphore), so the queue never grows past that
        this.workers = new ThreadPoolExecutor(maxConcurrent, maxConcurrent, 30, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), Thread.ofPlatform().name("shunt-cni-handler-", 1).daemon(true).factory());
        this.workers.allowCoreThreadTimeOut(true);
        this.io = Thread.ofPlatform().name("shunt-cni-io").daemon(true).unstarted(this::serve);
    }

    /**
     * Binds {@code socket} and starts serving. The parent directory is created with mode 0700 if
     * missing; the socket file gets mode 0600. A socket file nobody answers on (left by a crashed
     * agent) is replaced.
     *
     * @param maxConcurrent  requests in the handler at once; one more is answered "agent busy"
     * @param requestTimeout how long a client may take to send its request, and to read its reply
     * @throws java.net.BindException when another process already answers on {@code socket}
     * @throws java.nio.file.FileAlreadyExistsException when {@code socket} exists and is not a socket
     */
    public static CniEndpoint start(Path socket, CniHandler handler, int maxConcurrent, Duration requestTimeout)
            throws IOException {
        Objects.requireNonNull(socket, "socket");
        Objects.requireNonNull(handler, "handler");
        Objects.requireNonNull(requestTimeout, "requestTimeout");
        if (maxConcurrent < 1) {
            throw new IllegalArgumentException("maxConcurrent must be at least 1, got " + maxConcurrent);
        }
        if (requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("requestTimeout must be positive, got " + requestTimeout);
        }
        RootOnlySocket.Bound bound = RootOnlySocket.bind(socket, "CNI");
        Selector selector = null;
        try {
            selector = Selector.open();
            bound.server().configureBlocking(false);
            SelectionKey acceptKey = bound.server().register(selector, SelectionKey.OP_ACCEPT);
            CniEndpoint endpoint = new CniEndpoint(bound, selector, acceptKey, handler, maxConcurrent, requestTimeout);
            endpoint.io.start();
            LOG.info("serving the shunt-cni plugin on {} (up to {} requests at once, {} ms to send a request)",
                    bound.file().path(), maxConcurrent, requestTimeout.toMillis());
            return endpoint;
        } catch (IOException | RuntimeException e) {
            bound.server().close();
            if (selector != null) {
                selector.close();
            }
            bound.file().remove();
            throw e;
        }
    }

    /** The socket's absolute path. */
    public Path socket() {
        return file.path();
    }

    /** True while the endpoint accepts requests: started, not closed, its I/O thread alive. */
    public boolean serving() {
        return !closing && io.isAlive();
    }

    /** {@link #close(Duration)} with {@link #DEFAULT_CLOSE_GRACE}. */
    @Override
    public void close() {
        close(DEFAULT_CLOSE_GRACE);
    }

    /**
     * Stops accepting at once, answers "try again later" to clients still sending a request, lets
     * requests already in the handler finish and their replies go out for up to {@code grace},
     * then interrupts what is left, and removes the socket file (unless another agent has bound
     * the path since). Idempotent; never throws.
     */
    public void close(Duration grace) {
        if (!closeCalled.compareAndSet(false, true)) {
            return;
        }
        long deadline = System.nanoTime() + Math.max(0, grace.toNanos());
        closeDeadline = deadline;
        closing = true;
        selector.wakeup();
        boolean interrupted = false;
        try {
            io.join(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())).plusSeconds(1));
        } catch (InterruptedException e) {
            interrupted = true;
        }
        workers.shutdown();
        try {
            if (!workers.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                LOG.warn("{} CNI request(s) still in the handler after {} ms; interrupting them",
                        workers.getActiveCount(), grace.toMillis());
                workers.shutdownNow();
            }
        } catch (InterruptedException e) {
            interrupted = true;
            workers.shutdownNow();
        }
        file.remove();
        LOG.info("stopped serving the shunt-cni plugin on {}", file.path());
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- the I/O thread

    private void serve() {
        try {
            while (true) {
                for (Runnable task; (task = toIo.poll()) != null; ) {
                    try {
                        task.run();
                    } catch (RuntimeException e) {
                        LOG.error("sending a CNI reply failed", e); // one connection's problem, not the endpoint's
                    }
                }
                long now = System.nanoTime();
                if (closing) {
                    if (server.isOpen()) {
                        stopAccepting();
                    }
                    if (connections.isEmpty() || now - closeDeadline >= 0) {
                        return;
                    }
                }
                long next = expire(now);
                if (closing) {
                    next = Math.min(next, closeDeadline);
                }
                long waitMillis = next == NO_DEADLINE ? 0 : Math.max(1, TimeUnit.NANOSECONDS.toMillis(next - now) + 1);
                selector.select(this::onSelected, waitMillis);
            }
        } catch (IOException | RuntimeException e) {
            LOG.error("the CNI endpoint on {} stopped serving; pods cannot be added until the agent restarts",
                    file.path(), e);
        } finally {
            for (Connection c : new ArrayList<>(connections)) {
                c.close(closing ? "the agent stopped before the reply was sent" : "the CNI endpoint failed");
            }
            closeQuietly(server);
            closeQuietly(selector);
        }
    }

    private void onSelected(SelectionKey key) {
        if (key == acceptKey) {
            acceptAll();
            return;
        }
        Connection c = (Connection) key.attachment();
        try {
            if (key.isValid() && key.isReadable()) {
                c.onReadable();
            } else if (key.isValid() && key.isWritable()) {
                c.onWritable();
            }
        } catch (IOException | RuntimeException e) {
            c.close(e.toString());
        }
    }

    private void acceptAll() {
        for (int i = 0; i < ACCEPTS_PER_ROUND; i++) {
            SocketChannel channel;
            try {
                channel = server.accept();
            } catch (IOException e) {
                // e.g. EMFILE: the listening socket stays readable, so pause instead of spinning
                LOG.warn("accepting a CNI connection on {} failed: {}; pausing accepts for 100 ms", file.path(), e.toString());
                acceptKey.interestOps(0);
                acceptPausedUntil = System.nanoTime() + ACCEPT_PAUSE_NANOS;
                return;
            }
            if (channel == null) {
                return;
            }
            if (connections.size() >= maxConcurrent + MAX_WAITING_CONNECTIONS) {
                refuse(channel, CniReply.failure(CniReply.TRY_AGAIN_LATER, BUSY,
                        connections.size() + " connections are open already"));
                LOG.warn("CNI connection refused: {} connections are open already", connections.size());
                continue;
            }
            try {
                channel.configureBlocking(false);
                Connection c = new Connection(channel);
                c.key = channel.register(selector, SelectionKey.OP_READ, c);
                connections.add(c);
            } catch (IOException e) {
                LOG.warn("could not serve a CNI connection: {}", e.toString());
                closeQuietly(channel);
            }
        }
    }

    private void stopAccepting() {
        acceptKey.cancel();
        closeQuietly(server);
        for (Connection c : new ArrayList<>(connections)) {
            if (c.phase == Phase.READING) {
                refuse(c.channel, CniReply.failure(CniReply.TRY_AGAIN_LATER, "the shunt agent is stopping",
                        "nothing was changed; the runtime retries once an agent serves again"));
                c.close("the agent stopped before the request was complete");
            }
        }
    }

    /** Drops connections past their deadline; returns the next deadline, or {@link #NO_DEADLINE}. */
    private long expire(long now) {
        if (acceptPausedUntil != NO_DEADLINE && now - acceptPausedUntil >= 0 && acceptKey.isValid()) {
            acceptPausedUntil = NO_DEADLINE;
            acceptKey.interestOps(SelectionKey.OP_ACCEPT);
        }
        long next = acceptPausedUntil;
        for (Connection c : new ArrayList<>(connections)) {
            if (c.deadline == NO_DEADLINE) {
                continue;
            }
            if (now - c.deadline >= 0) {
                if (c.phase == Phase.READING) {
                    refuse(c.channel, CniReply.failure(CniReply.IO_FAILURE, "no complete CNI request within "
                            + requestTimeout.toMillis() + " ms", "the connection is closed"));
                    c.close("no complete request within " + requestTimeout.toMillis() + " ms; dropped");
                } else {
                    c.close("the client did not read the reply within " + requestTimeout.toMillis() + " ms");
                }
            } else if (next == NO_DEADLINE || c.deadline - next < 0) {
                next = c.deadline;
            }
        }
        return next;
    }

    // ---- handler threads

    private void handle(Connection c) {
        CniReply reply = null;
        try {
            reply = CniDispatch.dispatch(handler, c.request);
        } catch (RuntimeException | Error e) {
            // dispatch catches the handler's exceptions: this is the endpoint's own bug, or an Error
            LOG.error("CNI {} {}: failed", c.request.command(), CniLog.describe(c.request), e);
            reply = CniDispatch.handlerFailed(c.request, e);
            if (e instanceof VirtualMachineError) {
                throw e;
            }
        } finally {
            permits.release();
            // whatever happened above, the client gets an answer and the connection closes
            CniReply answer = reply != null ? reply : CniReply.failure(CniReply.IO_FAILURE,
                    "the shunt agent failed on this request", "see the agent's log");
            toIo.add(() -> c.reply(answer));
            selector.wakeup();
        }
    }

    // ---- one connection, touched by the I/O thread only (handler threads read its request)

    private enum Phase { READING, HANDLING, WRITING, CLOSED }

    private final class Connection {
        final SocketChannel channel;
        final long accepted = System.nanoTime();
        SelectionKey key;
        Phase phase = Phase.READING;
        long deadline = accepted + requestTimeout.toNanos();
        private ByteBuffer in = ByteBuffer.allocate(FIRST_BUFFER_BYTES);
        private int scanned;
        volatile CniRequest request;
        private CniReply reply;
        private ByteBuffer out;

        Connection(SocketChannel channel) {
            this.channel = channel;
        }

        void onReadable() throws IOException {
            int n = channel.read(in);
            for (int i = scanned; i < in.position(); i++) {
                if (in.get(i) == '\n') {
                    decode(i);
                    return;
                }
            }
            scanned = in.position();
            if (n < 0) {
                if (in.position() == 0) {
                    // e.g. another agent probing whether this socket is alive
                    LOG.debug("a CNI client closed its connection without sending a request");
                    close(null);
                } else {
                    decode(in.position());
                }
            } else if (!in.hasRemaining()) {
                if (in.capacity() > CniWire.MAX_MESSAGE_BYTES) {
                    reply(CniReply.failure(CniReply.DECODING_FAILURE, "the CNI request is over the limit of "
                                    + CniWire.MAX_MESSAGE_BYTES + " bytes",
                            "no newline within the first " + in.capacity() + " bytes"));
                } else {
                    ByteBuffer bigger = ByteBuffer.allocate(Math.min(in.capacity() * 2, CniWire.MAX_MESSAGE_BYTES + 1));
                    in.flip();
                    in = bigger.put(in);
                }
            }
        }

        private void decode(int length) {
            byte[] line = new byte[length];
            in.get(0, line);
            in = null;
            if (length == 0) {
                reply(CniReply.failure(CniReply.DECODING_FAILURE, "malformed CNI request: an empty line",
                        "expected one JSON object, then a newline"));
                return;
            }
            CniRequest decoded;
            try {
                decoded = CniWire.read(new ByteArrayInputStream(line), CniRequest.class);
            } catch (IOException e) {
                String why = String.valueOf(e.getMessage()).lines().findFirst().orElse(e.toString());
                reply(CniReply.failure(CniReply.DECODING_FAILURE, "malformed CNI request: " + why, String.valueOf(e.getMessage())));
                return;
            }
            if (decoded == null) {
                reply(CniReply.failure(CniReply.DECODING_FAILURE, "malformed CNI request: JSON null", "expected an object"));
                return;
            }
            request = decoded;
            phase = Phase.HANDLING;
            deadline = NO_DEADLINE;
            key.interestOps(0);
            if (!permits.tryAcquire()) {
                reply(CniReply.failure(CniReply.TRY_AGAIN_LATER, BUSY,
                        maxConcurrent + " CNI requests are in progress already; the runtime retries"));
                return;
            }
            try {
                workers.execute(() -> handle(this));
            } catch (RejectedExecutionException e) {
                permits.release();
                reply(CniReply.failure(CniReply.TRY_AGAIN_LATER, "the shunt agent is stopping", "nothing was changed"));
            }
        }

        /** Starts writing {@code answer}; the connection closes once it is out. */
        void reply(CniReply answer) {
            if (phase == Phase.CLOSED) {
                return;
            }
            reply = answer;
            out = ByteBuffer.wrap(encode(answer));
            phase = Phase.WRITING;
            deadline = System.nanoTime() + requestTimeout.toNanos();
            try {
                onWritable();
            } catch (IOException e) {
                close("the reply could not be sent: " + e.getMessage());
            }
        }

        void onWritable() throws IOException {
            channel.write(out);
            if (out.hasRemaining()) {
                key.interestOps(SelectionKey.OP_WRITE);
            } else {
                close(null);
            }
        }

        /** Closes the connection and logs its one line; {@code problem} is null when all went well. */
        void close(String problem) {
            if (phase == Phase.CLOSED) {
                return;
            }
            boolean replied = phase == Phase.WRITING && problem == null;
            phase = Phase.CLOSED;
            connections.remove(this);
            closeQuietly(channel);
            if (request == null && reply == null && problem == null) {
                return; // nothing was asked
            }
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - accepted);
            String command = request == null ? "?" : request.command().toString();
            String container = request == null ? "-" : CniLog.shortId(request.containerId());
            String pod = request == null ? "-" : CniLog.pod(request);
            String outcome = reply == null ? "no reply" : CniLog.outcome(reply);
            Level level = request == null || !replied ? Level.WARN : Level.INFO;
            LOG.atLevel(level).addKeyValue("pod", pod).log("CNI {} container={} {}{} in {} ms", command, container,
                    outcome, problem == null ? "" : " (" + problem + ")", millis);
        }
    }

    /** Best effort, for a client the endpoint will not serve: one non-blocking write, then close. */
    private static void refuse(SocketChannel channel, CniReply reply) {
        try {
            channel.configureBlocking(false);
            channel.write(ByteBuffer.wrap(encode(reply)));
        } catch (IOException | RuntimeException e) {
            // the client is gone or its buffer is full: closing is the answer
        } finally {
            closeQuietly(channel);
        }
    }

    /** The reply's wire bytes; a reply too large for the wire loses the end of its texts. */
    static byte[] encode(CniReply reply) {
        try {
            return wire(reply);
        } catch (IOException tooLarge) {
            CniReply shorter = new CniReply(reply.ok(), reply.code(), clip(reply.msg(), 1024),
                    clip(reply.details(), 8192), clip(reply.technique(), 256));
            try {
                return wire(shorter);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private static byte[] wire(CniReply reply) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
        CniWire.write(bytes, reply);
        return bytes.toByteArray();
    }

    private static String clip(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max) + "... [cut]";
    }

    private static void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            LOG.debug("closing {} failed: {}", closeable, e.toString());
        }
    }
}
