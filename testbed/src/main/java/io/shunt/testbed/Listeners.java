package io.shunt.testbed;

import io.shunt.ffi.netns.NetNs;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** What the test servers share: creating their listening socket inside a namespace, and stopping their threads. */
final class Listeners {
    static final int BACKLOG = 1024;

    private Listeners() {
    }

    /**
     * A blocking listener created and bound inside {@code ns} on the calling platform thread; it
     * stays in that namespace whichever thread accepts on it later.
     */
    static ServerSocket bindServerSocket(NetNs ns, InetSocketAddress bind, String what) throws IOException {
        return ns.run(() -> {
            ServerSocket socket = new ServerSocket();
            try {
                socket.setReuseAddress(true);
                socket.bind(bind, BACKLOG);
                return socket;
            } catch (IOException e) {
                socket.close();
                throw bindFailed(e, what, bind, ns);
            }
        });
    }

    /** As {@link #bindServerSocket}, as an IPv4 NIO channel for a selector. */
    static ServerSocketChannel bindServerChannel(NetNs ns, InetSocketAddress bind, String what) throws IOException {
        return ns.run(() -> {
            ServerSocketChannel channel = ServerSocketChannel.open(StandardProtocolFamily.INET);
            try {
                channel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
                channel.bind(bind, BACKLOG);
                return channel;
            } catch (IOException e) {
                channel.close();
                throw bindFailed(e, what, bind, ns);
            }
        });
    }

    private static IOException bindFailed(IOException e, String what, InetSocketAddress bind, NetNs ns) {
        return new IOException("cannot bind " + what + " to " + bind + " in " + ns + ": " + e.getMessage()
                + " — is the address assigned in that namespace (ip -n <ns> addr) and the port free?", e);
    }

    /**
     * Waits for {@code main} and then for every thread left in {@code workers}, all within
     * {@code timeout}. A thread that does not stop is a bug in the server: it is reported, not ignored.
     */
    static void join(Thread main, Collection<Thread> workers, Duration timeout, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Thread> stuck = new ArrayList<>();
        try {
            joinUntil(main, deadline, stuck);
            for (Thread worker : List.copyOf(workers)) {
                joinUntil(worker, deadline, stuck);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        if (!stuck.isEmpty()) {
            throw new IllegalStateException(what + ": threads " + stuck + " did not stop within " + timeout.toSeconds() + " s of close()");
        }
    }

    private static void joinUntil(Thread thread, long deadline, List<Thread> stuck) throws InterruptedException {
        long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
        if (!thread.join(Duration.ofMillis(left))) {
            stuck.add(thread);
        }
    }
}
