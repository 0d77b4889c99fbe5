package io.shunt.agent.metrics;

import com.sun.net.httpserver.HttpServer;
import io.shunt.agent.NodeAgent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Serves the agent's metrics in the Prometheus text format on {@code /metrics}, liveness on
 * {@code /healthz} and readiness on {@code /readyz}, over plain HTTP. There is no authentication,
 * so it listens on loopback only; a scraper on the node (or a forwarding sidecar) reads it.
 *
 * <p>Requests are answered one at a time on one daemon thread: a scrape is a few kilobytes,
 * rendered from counters in memory.
 */
public final class MetricsServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MetricsServer.class);

    private final HttpServer server;
    private final ExecutorService handlers;
    private final InetSocketAddress address;
    private boolean closed;

    private MetricsServer(HttpServer server, ExecutorService handlers) {
        this.server = server;
        this.handlers = handlers;
        this.address = server.getAddress();
    }

    /**
     * Starts serving {@code agent}'s metrics on {@code address}, e.g. {@code 127.0.0.1:9464}; port 0
     * picks a free one (see {@link #address()}).
     *
     * @throws IllegalArgumentException when {@code address} is not a resolved loopback address
     * @throws IOException              when the address cannot be bound, e.g. the port is in use
     */
    public static MetricsServer start(InetSocketAddress address, NodeAgent agent) throws IOException {
        Objects.requireNonNull(agent, "agent");
        return start(address, AgentView.of(agent));
    }

    static MetricsServer start(InetSocketAddress address, AgentView agent) throws IOException {
        requireLoopback(address);
        HttpServer server;
        try {
            server = HttpServer.create(address, 0);
        } catch (IOException e) {
            throw new IOException("cannot serve metrics on " + hostPort(address) + ": " + e.getMessage()
                    + " (is another process using the port? choose a free one)", e);
        }
        ExecutorService handlers = Executors.newSingleThreadExecutor(
                Thread.ofPlatform().name("shunt-metrics-http").daemon().factory());
        server.setExecutor(handlers);
        server.createContext("/", new MetricsHandler(agent));
        server.start();
        MetricsServer started = new MetricsServer(server, handlers);
        LOG.info("metrics: serving http://{}/metrics, /healthz and /readyz", hostPort(started.address()));
        return started;
    }

    private static void requireLoopback(InetSocketAddress address) {
        Objects.requireNonNull(address, "address");
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("metrics address " + address.getHostString() + ":" + address.getPort()
                    + " is not resolved; give a loopback address such as 127.0.0.1:" + address.getPort());
        }
        if (!address.getAddress().isLoopbackAddress()) {
            throw new IllegalArgumentException("metrics address " + hostPort(address) + " is not a loopback address: "
                    + "the metrics endpoint has no authentication, so it listens only on loopback; use 127.0.0.1:"
                    + address.getPort() + " or [::1]:" + address.getPort());
        }
    }

    /** Where it listens, with the actual port when it was started with port 0. */
    public InetSocketAddress address() {
        return address;
    }

    /** Stops listening at once, dropping requests in flight. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        server.stop(0);
        handlers.shutdownNow();
        LOG.info("metrics: stopped serving on {}", hostPort(address));
    }

    private static String hostPort(InetSocketAddress a) {
        String host = a.getAddress().getHostAddress();
        return (a.getAddress() instanceof Inet6Address ? "[" + host + "]" : host) + ":" + a.getPort();
    }
}
