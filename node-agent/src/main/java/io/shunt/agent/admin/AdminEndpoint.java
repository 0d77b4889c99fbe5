package io.shunt.agent.admin;

import io.shunt.agent.socket.RootOnlySocket;
import io.shunt.api.admin.AdminReply;
import io.shunt.api.admin.AdminReply.ErrorKind;
import io.shunt.api.admin.AdminRequest;
import io.shunt.api.admin.AdminWire;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Serves the {@link AdminService} on a root-only Unix socket: one request and one reply per
 * connection ({@link AdminWire}). Each connection gets a platform thread (commands enter pod
 * namespaces, which virtual threads must not do), at most {@code maxConcurrent} at once; a client that does not
 * send its request within {@code requestTimeout} is cut off, and beyond {@code maxConcurrent}
 * requests at once the agent answers "busy" instead of queueing. Nothing a client sends stops
 * the endpoint.
 */
public final class AdminEndpoint implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AdminEndpoint.class);

    private final RootOnlySocket file;
    private final ServerSocketChannel server;
    private final AdminService service;
    private final Duration requestTimeout;
    private final Semaphore permits;
    private final ScheduledExecutorService watchdog;
    private final Thread acceptor;

    private AdminEndpoint(RootOnlySocket.Bound bound, AdminService service, int maxConcurrent, Duration requestTimeout) {
        this.file = bound.file();
        this.server = bound.server();
        this.service = service;
        this.requestTimeout = requestTimeout;
        this.permits = new Semaphore(maxConcurrent);
        this.watchdog = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("shunt-admin-watchdog")
                .daemon().factory());
        this.acceptor = Thread.ofPlatform().name("shunt-admin-accept").daemon().unstarted(this::acceptLoop);
    }

    public static AdminEndpoint start(Path socket, AdminService service, int maxConcurrent, Duration requestTimeout)
            throws IOException {
        AdminEndpoint endpoint = new AdminEndpoint(RootOnlySocket.bind(socket, "admin"), service, maxConcurrent,
                requestTimeout);
        endpoint.acceptor.start();
        LOG.info("admin API on {} (version {})", endpoint.file.path(), AdminWire.VERSION);
        return endpoint;
    }

    public Path socket() {
        return file.path();
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                LOG.warn("admin socket accept failed: {}", e.getMessage());
                continue;
            }
            if (!permits.tryAcquire()) {
                Thread.ofPlatform().daemon().name("shunt-admin-busy").start(() -> refuseBusy(client));
                continue;
            }
            // Created by the acceptor, so it starts in the agent's own network namespace.
            Thread.ofPlatform().daemon().name("shunt-admin-request").start(() -> {
                try {
                    serve(client);
                } finally {
                    permits.release();
                }
            });
        }
    }

    private void serve(SocketChannel client) {
        ScheduledFuture<?> cutOff = watchdog.schedule(() -> closeQuietly(client), requestTimeout.toMillis(),
                TimeUnit.MILLISECONDS);
        AdminRequest request;
        try (client) {
            InputStream in = Channels.newInputStream(client);
            OutputStream out = Channels.newOutputStream(client);
            try {
                request = AdminWire.readRequest(in);
            } catch (IOException e) {
                if (client.isOpen()) {
                    AdminWire.writeReply(out, AdminReply.failure(ErrorKind.BAD_REQUEST,
                            "the request is not one JSON admin request line: " + e.getMessage()));
                }
                return;
            } finally {
                cutOff.cancel(false);
            }
            long start = System.nanoTime();
            AdminReply reply = service.handle(request);
            LOG.info("admin {} {}: {} in {} ms", request.command(), request.args(), reply.ok() ? "ok" : reply.kind()
                    + ": " + reply.error(), (System.nanoTime() - start) / 1_000_000);
            AdminWire.writeReply(out, reply);
        } catch (IOException e) {
            LOG.debug("admin client went away: {}", e.getMessage());
        }
    }

    private static void refuseBusy(SocketChannel client) {
        try (client) {
            AdminWire.writeReply(Channels.newOutputStream(client), AdminReply.failure(ErrorKind.FAILED,
                    "the agent is busy with other admin requests; try again"));
        } catch (IOException e) {
            // the client left
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing to cut off a slow client
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException e) {
            LOG.warn("closing the admin socket: {}", e.getMessage());
        }
        watchdog.shutdownNow();
        file.remove();
    }
}
