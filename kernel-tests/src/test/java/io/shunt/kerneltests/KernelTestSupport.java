package io.shunt.kerneltests;

import io.shunt.agent.NodeAgent;
import io.shunt.proxy.PodCounters;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;

import io.shunt.ffi.netns.NetNs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** What the kernel test classes share: reading a pod's rules, waiting (bounded) for counters to settle. */
final class KernelTestSupport {
    private KernelTestSupport() {
    }

    /** The pod's whole nftables ruleset, stripped; "" when nothing is installed. */
    /**
     * The nftables techniques, best first: for tests whose assertions read Shunt's nftables rules
     * (CNI CHECK noticing a deleted rule, annotations changing a pod's rules). The tc technique,
     * first in the default ranking, has its own tests: ConformanceTest, TcTechniqueTest,
     * CrashBehaviourTest, UpgradeTest.
     */
    static final java.util.List<io.shunt.hijack.TechniqueId> NFT_RANKING =
            java.util.List.of(io.shunt.hijack.TechniqueId.TPROXY, io.shunt.hijack.TechniqueId.REDIRECT);

    /** An agent's arguments: {@code base} and then {@code more}. */
    static List<String> with(List<String> base, String... more) {
        List<String> args = new ArrayList<>(base);
        args.addAll(List.of(more));
        return args;
    }

    static String rules(PodNs pod) throws IOException {
        return Topology.exec(pod.netnsName(), "nft", "list", "ruleset").strip();
    }

    static PodCounters.Snapshot counters(NodeAgent agent, String pod) {
        return agent.counters(pod).orElseThrow(() -> new AssertionError("agent does not intercept " + pod));
    }

    /** Waits (bounded) until the pod's connections have all ended, so the totals are final. */
    static PodCounters.Snapshot awaitIdle(NodeAgent agent, String pod) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        PodCounters.Snapshot s = counters(agent, pod);
        while (s.active() != 0 && System.nanoTime() < deadline) {
            sleep(5);
            s = counters(agent, pod);
        }
        assertEquals(0, s.active(), "connections of " + pod + " still open after 10 s: " + s);
        return s;
    }

    /** Polls {@code condition} until it holds or {@code timeout} passes; returns whether it held. */
    static boolean await(Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            sleep(10);
        }
        return true;
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting", e);
        }
    }

    static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new Random(n).nextBytes(b);
        return b;
    }

    /**
     * Byte number {@code position} of an endless deterministic stream: every byte depends on its
     * absolute position, so a lost, duplicated or reordered stretch shows up as a mismatch.
     */
    static byte patternByte(long position) {
        long x = (position + 1) * 0x9E3779B97F4A7C15L;
        x ^= x >>> 29;
        return (byte) (x >>> 32);
    }

    static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception ignored) {
            // teardown continues; the topology's own verification reports what is left
        }
    }

    /** A listener created (and bound) inside {@code ns}: the channel's fd exists from open() on. */
    static ServerSocketChannel listen(NetNs ns, InetSocketAddress address) throws IOException {
        ServerSocketChannel ssc = ns.run(() -> ServerSocketChannel.open(StandardProtocolFamily.INET));
        try {
            ssc.bind(address);
            return ssc;
        } catch (IOException e) {
            ssc.close();
            throw e;
        }
    }

    /** Accepts one connection within {@code timeout}; the accepted channel is blocking. */
    static SocketChannel accept(ServerSocketChannel ssc, Duration timeout) throws IOException {
        ssc.configureBlocking(false);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() - deadline < 0) {
            SocketChannel ch = ssc.accept();
            if (ch != null) {
                ch.configureBlocking(true);
                return ch;
            }
            sleep(5);
        }
        throw new AssertionError("no connection reached " + ssc.getLocalAddress() + " within " + timeout.toSeconds() + " s");
    }

    /** How far {@link #writeUntilStalled} got: bytes of the pattern written, and whether writes stopped making progress. */
    record WriteResult(long written, boolean stalled) {
    }

    /**
     * Writes the {@link #patternByte pattern} from position 0 through a non-blocking channel until
     * no write makes progress for {@code stall}, or {@code cap} bytes or {@code limit} are reached.
     * The channel is left non-blocking.
     */
    static WriteResult writeUntilStalled(SocketChannel ch, long cap, Duration limit, Duration stall) throws IOException {
        ch.configureBlocking(false);
        long written = 0;
        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024).flip();
        long start = System.nanoTime();
        long lastProgress = start;
        while (written < cap && System.nanoTime() - start < limit.toNanos()) {
            if (!chunk.hasRemaining()) {
                // the chunk always holds the stream from `written` on, never beyond `cap`
                fillPattern(chunk, written, (int) Math.min(chunk.capacity(), cap - written));
            }
            int n = ch.write(chunk);
            long now = System.nanoTime();
            if (n > 0) {
                written += n;
                lastProgress = now;
            } else if (now - lastProgress >= stall.toNanos()) {
                return new WriteResult(written, true);
            } else {
                sleep(2);
            }
        }
        return new WriteResult(written, false);
    }

    static void fillPattern(ByteBuffer chunk, long offset, int length) {
        chunk.clear();
        for (int i = 0; i < length; i++) {
            chunk.put(patternByte(offset + i));
        }
        chunk.flip();
    }

    /**
     * Reads a blocking channel until EOF, checking every byte against the pattern; returns how
     * many arrived. Fails on a mismatch, on more than {@code expected} bytes, or when nothing
     * (not even EOF) arrives for {@code timeout}.
     */
    static long readPattern(SocketChannel ch, long expected, Duration timeout, String who) throws IOException {
        ch.socket().setSoTimeout((int) timeout.toMillis());
        InputStream in = ch.socket().getInputStream();
        long deadline = System.nanoTime() + timeout.toNanos();
        byte[] buf = new byte[256 * 1024];
        long received = 0;
        while (true) {
            int n;
            try {
                n = in.read(buf);
            } catch (SocketTimeoutException e) {
                throw new AssertionError(who + " received " + received + " of " + expected
                        + " bytes and then nothing more, and no FIN, for " + timeout.toSeconds() + " s", e);
            }
            if (n < 0) {
                return received;
            }
            for (int i = 0; i < n; i++) {
                if (buf[i] != patternByte(received + i)) {
                    fail("byte " + (received + i) + " of " + expected + " that " + who + " received differs from what was sent");
                }
            }
            received += n;
            if (received > expected) {
                fail(who + " received " + received + " bytes, more than the " + expected + " sent");
            }
            if (System.nanoTime() - deadline > 0) {
                fail(who + " took more than " + timeout.toSeconds() + " s to receive " + expected + " bytes (got " + received + ")");
            }
        }
    }

    /** Creates a bare namespace (test names start with {@code shunt-}); the caller deletes it. */
    static String addNetns(String name) throws IOException {
        try {
            Process p = new ProcessBuilder("ip", "netns", "add", name).redirectErrorStream(true).start();
            if (p.waitFor() != 0) {
                throw new IOException("ip netns add " + name + " failed: " + new String(p.getInputStream().readAllBytes()));
            }
            return name;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    static void deleteRecursively(Path root) throws IOException {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted((a, b) -> b.compareTo(a)).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
