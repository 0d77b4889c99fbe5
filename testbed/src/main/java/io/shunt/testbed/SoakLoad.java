package io.shunt.testbed;

import io.shunt.ffi.netns.NetNs;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The soak's load: a fixed pool of keep-alive connections to an {@link HttpServer}, each sending
 * one request per period, plus a churn of short connections (one request with
 * {@code Connection: close}, then the server's close), all from inside pod namespaces and all on
 * one selector thread. Every response is compared byte for byte with what {@link HttpServer}
 * sends; a connection that fails (refused, reset, wrong byte, no answer within the timeout) is
 * counted, closed, and, for the pool, replaced, so the pool stays at its size.
 *
 * <p>Sockets are created inside the pod's namespace ({@link NetNs#run}) as {@link PodClient}
 * does; only creation needs the namespace. Every loop is bounded: the pool by its size, the churn
 * by its rate and by {@link #maxChurnInFlight}, connects by {@link #MAX_CONNECTING}.
 */
final class SoakLoad implements AutoCloseable {
    /** Pool connections connecting at once: ramps the pool up without flooding the listeners' backlogs. */
    static final int MAX_CONNECTING = 64;
    private static final Duration SWEEP = Duration.ofMillis(250);
    /** A pool connection that failed is replaced this much later, so a broken path cannot become a connect storm. */
    static final Duration RETRY_DELAY = Duration.ofSeconds(1);
    private static final int MAX_EXAMPLES = 20;

    /** The request body: a small payload, which the server has to skip exactly to find the next request. */
    static final byte[] PAYLOAD = "shunt soak: sixty-four bytes of request body, skipped by server\n"
            .getBytes(StandardCharsets.US_ASCII);

    private final List<NetNs> pods;
    private final InetSocketAddress target;
    private final int poolSize;
    private final int churnPerSecond;
    private final long periodNanos;
    private final long timeoutNanos;
    private final int maxChurnInFlight;
    private final byte[] keepAliveRequest;
    private final byte[] closeRequest;
    private final byte[] keepAliveResponse;
    private final byte[] closeResponse;

    private final Selector selector;
    private final Thread thread;
    private final ConcurrentLinkedQueue<Runnable> commands = new ConcurrentLinkedQueue<>();

    // Touched by the selector thread only.
    private final Set<Conn> all = new HashSet<>();
    private final PriorityQueue<Conn> due = new PriorityQueue<>((a, b) -> Long.compare(a.nextDue, b.nextDue));
    /** Pool connections to open: the pod, and not before when (in order, since retries are appended with later times). */
    private final ArrayDeque<long[]> toOpen = new ArrayDeque<>();
    private int connecting;
    private int churnInFlight;
    private long nextChurn;
    private boolean churning;
    private long churnSeq;
    private long nanos;

    // Read by other threads.
    private final AtomicLong requestsOk = new AtomicLong();
    private final AtomicLong requestFailures = new AtomicLong();
    private final AtomicLong poolConnects = new AtomicLong();
    private final AtomicLong churnOk = new AtomicLong();
    private final AtomicLong churnFailures = new AtomicLong();
    private final AtomicLong churnSkipped = new AtomicLong();
    private volatile int poolOpen;
    private volatile int churnOpen;
    private volatile boolean stopping;
    private volatile Throwable crashed;
    private final List<String> examples = new ArrayList<>();
    private LongList requestLatencies = new LongList();
    private LongList churnLatencies = new LongList();
    private final Object latencyLock = new Object();

    /**
     * @param pods           namespaces to open connections from, round-robin; the caller owns them
     * @param target         the HttpServer's address, as pods see it
     * @param poolSize       keep-alive connections to hold open
     * @param churnPerSecond short connections started per second once {@link #startChurn} is called
     * @param period         time between two requests of one pool connection
     * @param timeout        a connect or a response taking longer than this is a failure
     */
    SoakLoad(List<NetNs> pods, InetSocketAddress target, int poolSize, int churnPerSecond, Duration period,
             Duration timeout) throws IOException {
        if (pods.isEmpty() || poolSize < 1 || churnPerSecond < 0 || period.isNegative() || period.isZero()) {
            throw new IllegalArgumentException("soak load needs pods, a pool of at least one connection, a churn"
                    + " rate of 0 or more and a positive period");
        }
        this.pods = List.copyOf(pods);
        this.target = target;
        this.poolSize = poolSize;
        this.churnPerSecond = churnPerSecond;
        this.periodNanos = period.toNanos();
        this.timeoutNanos = timeout.toNanos();
        // A second's worth, at least 50: a churn connection normally lives a few milliseconds.
        this.maxChurnInFlight = Math.max(50, churnPerSecond);
        String host = target.getAddress().getHostAddress() + ":" + target.getPort();
        this.keepAliveRequest = request(host, false);
        this.closeRequest = request(host, true);
        this.keepAliveResponse = expectedResponse(true);
        this.closeResponse = expectedResponse(false);
        this.selector = Selector.open();
        // Created outside any netns.run, so the thread's home namespace is this process's.
        this.thread = Thread.ofPlatform().daemon().name("soak-load").unstarted(this::loop);
    }

    static byte[] request(String host, boolean close) {
        return ("POST /soak HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: " + PAYLOAD.length + "\r\n"
                + (close ? "Connection: close\r\n" : "") + "\r\n" + new String(PAYLOAD, StandardCharsets.US_ASCII))
                .getBytes(StandardCharsets.US_ASCII);
    }

    /** What {@link HttpServer} answers to a valid request, byte for byte. */
    static byte[] expectedResponse(boolean keepAlive) {
        return ("HTTP/1.1 200 OK\r\n"
                + "Content-Type: text/plain\r\n"
                + "Content-Length: " + HttpServer.BODY_LENGTH + "\r\n"
                + (keepAlive ? "" : "Connection: close\r\n")
                + "\r\n" + HttpServer.BODY).getBytes(StandardCharsets.US_ASCII);
    }

    /** Starts the selector thread, which opens the pool at once (at most {@value #MAX_CONNECTING} connecting at a time). */
    void start() {
        long now = System.nanoTime();
        for (int i = 0; i < poolSize; i++) {
            toOpen.add(new long[]{i % pods.size(), now});
        }
        thread.start();
    }

    /** Starts the churn of short connections. */
    void startChurn() {
        command(() -> {
            churning = churnPerSecond > 0;
            nextChurn = System.nanoTime();
        });
    }

    /** Stops the churn; connections in flight finish. */
    void stopChurn() {
        command(() -> churning = false);
    }

    /** Closes every pool connection (the churn is stopped first); the selector thread keeps running. */
    void closeAllConnections() {
        command(() -> {
            churning = false;
            toOpen.clear();
            due.clear();
            for (Conn c : List.copyOf(all)) {
                c.close();
            }
        });
    }

    /** Pool connections open and not connecting. */
    int poolOpen() {
        return poolOpen;
    }

    int churnInFlight() {
        return churnOpen;
    }

    /** The selector thread's crash, or null. */
    Throwable crashed() {
        return crashed;
    }

    /** Counters since the start, and the latencies recorded since the previous snapshot. */
    record Snapshot(long requestsOk, long requestFailures, long poolConnects, long churnOk, long churnFailures,
                    long churnSkipped, int poolOpen, int churnInFlight, long[] requestNanos, long[] churnNanos) {
        long failures() {
            return requestFailures + churnFailures;
        }
    }

    Snapshot snapshot() {
        LongList requests;
        LongList churn;
        synchronized (latencyLock) {
            requests = requestLatencies;
            churn = churnLatencies;
            requestLatencies = new LongList();
            churnLatencies = new LongList();
        }
        return new Snapshot(requestsOk.get(), requestFailures.get(), poolConnects.get(), churnOk.get(),
                churnFailures.get(), churnSkipped.get(), poolOpen, churnOpen, requests.toArray(), churn.toArray());
    }

    /** The first few failures, with what went wrong. */
    List<String> failureExamples() {
        synchronized (examples) {
            return List.copyOf(examples);
        }
    }

    /** Stops the selector thread, closing every connection, and waits for it. */
    @Override
    public void close() {
        stopping = true;
        selector.wakeup();
        if (thread.isAlive() || thread.getState() != Thread.State.NEW) {
            Listeners.join(thread, List.of(), Duration.ofSeconds(10), "soak load");
        }
        try {
            selector.close();
        } catch (IOException e) {
            // closing; the descriptor is released regardless
        }
    }

    private void command(Runnable command) {
        commands.add(command);
        selector.wakeup();
    }

    private void loop() {
        long nextSweep = System.nanoTime() + SWEEP.toNanos();
        try {
            while (!stopping) {
                for (Runnable command; (command = commands.poll()) != null; ) {
                    command.run();
                }
                nanos = System.nanoTime();
                openPending();
                sendDue();
                startChurnDue();
                if (nanos - nextSweep >= 0) {
                    sweepTimeouts();
                    nextSweep = nanos + SWEEP.toNanos();
                }
                selector.select(waitMillis(nextSweep));
                nanos = System.nanoTime();
                Set<SelectionKey> ready = selector.selectedKeys();
                for (SelectionKey key : ready) {
                    Conn c = (Conn) key.attachment();
                    if (key.isValid()) {
                        c.ready(key);
                    }
                }
                ready.clear();
            }
        } catch (IOException | RuntimeException | Error e) {
            crashed = e;
        } finally {
            for (Conn c : List.copyOf(all)) {
                c.closeQuietly();
            }
            all.clear();
            poolOpen = 0;
            churnOpen = 0;
        }
    }

    /** Until the next thing to do: a request due, a churn start, the sweep; at most the sweep interval. */
    private long waitMillis(long nextSweep) {
        long next = nextSweep;
        Conn first = due.peek();
        if (first != null && first.nextDue - next < 0) {
            next = first.nextDue;
        }
        if (churning && nextChurn - next < 0) {
            next = nextChurn;
        }
        if (!toOpen.isEmpty() && connecting < MAX_CONNECTING && toOpen.peek()[1] - next < 0) {
            next = toOpen.peek()[1];
        }
        return Math.max(1, (next - System.nanoTime()) / 1_000_000);
    }

    private void openPending() {
        while (!toOpen.isEmpty() && connecting < MAX_CONNECTING && toOpen.peek()[1] - nanos <= 0) {
            Conn c = new Conn((int) toOpen.poll()[0], false);
            connecting++;
            c.connect();
        }
    }

    private void sendDue() {
        while (!due.isEmpty() && due.peek().nextDue - nanos <= 0) {
            due.poll().send();
        }
    }

    private void startChurnDue() {
        if (!churning) {
            return;
        }
        long interval = 1_000_000_000L / churnPerSecond;
        // Bounded: at most a second's worth per turn, should the loop have been held up.
        for (int i = 0; i < churnPerSecond && nextChurn - nanos <= 0; i++) {
            nextChurn += interval;
            if (churnInFlight >= maxChurnInFlight) {
                churnSkipped.incrementAndGet();
                continue;
            }
            new Conn((int) (churnSeq++ % pods.size()), true).connect();
        }
        if (nextChurn - nanos < -1_000_000_000L) {
            nextChurn = nanos; // more than a second behind: skip ahead rather than burst
        }
    }

    private void sweepTimeouts() {
        for (Conn c : List.copyOf(all)) {
            if (c.deadline != 0 && c.deadline - nanos < 0) {
                c.fail("no " + (c.state == State.CONNECTING ? "connect" : c.state == State.AWAITING
                        ? "complete response (got " + c.matched + " of " + c.expected.length + " bytes)" : "close")
                        + " within " + timeoutNanos / 1_000_000 + " ms");
            }
        }
    }

    private void recordFailure(Conn c, String what) {
        (c.churn ? churnFailures : requestFailures).incrementAndGet();
        synchronized (examples) {
            if (examples.size() < MAX_EXAMPLES) {
                examples.add(Instant.now() + " " + (c.churn ? "churn" : "pool") + " connection from "
                        + pods.get(c.pod) + (c.local == null ? "" : " (" + c.local + ")") + ": " + what);
            }
        }
    }

    private void recordLatency(boolean churn, long value) {
        synchronized (latencyLock) {
            (churn ? churnLatencies : requestLatencies).add(value);
        }
    }

    private enum State { CONNECTING, IDLE, AWAITING, CLOSING }

    /** One connection: its socket, where its exchange stands, and when it must have progressed. */
    private final class Conn {
        final int pod;
        final boolean churn;
        final ByteBuffer in = ByteBuffer.allocate(512);
        SocketChannel channel;
        SelectionKey key;
        InetSocketAddress local;
        State state = State.CONNECTING;
        ByteBuffer out;
        byte[] expected;
        int matched;
        long started;
        long sentAt;
        long nextDue;
        /** When the current step times out; 0 when nothing is awaited (an idle pool connection). */
        long deadline;
        boolean closed;

        Conn(int pod, boolean churn) {
            this.pod = pod;
            this.churn = churn;
        }

        void connect() {
            all.add(this);
            if (churn) {
                churnInFlight++;
                churnOpen = churnInFlight;
            }
            started = nanos;
            deadline = nanos + timeoutNanos;
            try {
                channel = pods.get(pod).run(() -> SocketChannel.open(StandardProtocolFamily.INET));
                channel.configureBlocking(false);
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                key = channel.register(selector, 0, this);
                if (channel.connect(target)) {
                    connected();
                } else {
                    key.interestOps(SelectionKey.OP_CONNECT);
                }
            } catch (IOException e) {
                fail("connect: " + e);
            }
        }

        void ready(SelectionKey k) {
            try {
                if (state == State.CONNECTING) {
                    if (k.isConnectable() && channel.finishConnect()) {
                        connected();
                    }
                    return;
                }
                if (k.isWritable()) {
                    flush();
                }
                if (k.isValid() && k.isReadable()) {
                    read();
                }
            } catch (IOException e) {
                fail(state.name().toLowerCase() + ": " + e);
            }
        }

        private void connected() throws IOException {
            local = (InetSocketAddress) channel.getLocalAddress();
            if (churn) {
                send();
                return;
            }
            connecting--;
            poolConnects.incrementAndGet();
            poolOpen++;
            state = State.IDLE;
            deadline = 0;
            key.interestOps(SelectionKey.OP_READ); // an unexpected byte or a close shows at once
            // Spread the pool's requests evenly over the period.
            nextDue = nanos + ThreadLocalRandom.current().nextLong(periodNanos);
            due.add(this);
        }

        void send() {
            if (closed) {
                return;
            }
            state = State.AWAITING;
            sentAt = System.nanoTime();
            deadline = sentAt + timeoutNanos;
            out = ByteBuffer.wrap(churn ? closeRequest : keepAliveRequest);
            expected = churn ? closeResponse : keepAliveResponse;
            matched = 0;
            try {
                flush();
            } catch (IOException e) {
                fail("send: " + e);
            }
        }

        private void flush() throws IOException {
            if (out != null) {
                channel.write(out);
                if (!out.hasRemaining()) {
                    out = null;
                }
            }
            key.interestOps(SelectionKey.OP_READ | (out != null ? SelectionKey.OP_WRITE : 0));
        }

        private void read() throws IOException {
            in.clear();
            int n = channel.read(in);
            if (n < 0) {
                if (state == State.CLOSING) {
                    churnOk.incrementAndGet();
                    recordLatency(true, System.nanoTime() - started);
                    close();
                } else {
                    fail("closed by the peer " + (state == State.AWAITING ? "after " + matched + " of "
                            + expected.length + " response bytes" : "while idle"));
                }
                return;
            }
            in.flip();
            if (state != State.AWAITING) {
                fail(in.remaining() + " unexpected bytes " + (state == State.IDLE ? "while idle" : "after the response"));
                return;
            }
            while (in.hasRemaining()) {
                byte b = in.get();
                if (matched >= expected.length || b != expected[matched]) {
                    fail("response differs from the server's at byte " + matched + ": got " + printable(b)
                            + ", expected " + (matched < expected.length ? printable(expected[matched]) : "nothing more"));
                    return;
                }
                matched++;
            }
            if (matched == expected.length) {
                long now = System.nanoTime();
                if (churn) {
                    state = State.CLOSING; // the server closes after a Connection: close response
                    deadline = now + timeoutNanos;
                } else {
                    requestsOk.incrementAndGet();
                    recordLatency(false, now - sentAt);
                    state = State.IDLE;
                    deadline = 0;
                    long next = sentAt + periodNanos;
                    nextDue = next - now > 0 ? next : now; // nanoTime values compare by difference
                    due.add(this);
                }
            }
        }

        void fail(String what) {
            if (closed) {
                return;
            }
            recordFailure(this, what);
            close();
            if (!churn && !stopping) {
                toOpen.add(new long[]{pod, nanos + RETRY_DELAY.toNanos()}); // replaced, so the pool keeps its size
            }
        }

        void close() {
            if (closed) {
                return;
            }
            closed = true;
            all.remove(this);
            due.remove(this);
            if (churn) {
                churnInFlight--;
                churnOpen = churnInFlight;
            } else if (state == State.CONNECTING) {
                connecting--;
            } else {
                poolOpen--;
            }
            closeQuietly();
        }

        void closeQuietly() {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException e) {
                    // the descriptor is released regardless
                }
            }
        }
    }

    private static String printable(byte b) {
        return b >= 0x20 && b < 0x7f ? "'" + (char) b + "'" : String.format("0x%02x", b & 0xff);
    }

    /** A growable array of longs: latencies without boxing. */
    static final class LongList {
        private long[] values = new long[1024];
        private int size;

        void add(long value) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = value;
        }

        long[] toArray() {
            return Arrays.copyOf(values, size);
        }
    }
}
