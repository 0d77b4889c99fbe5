package io.shunt.proxy;

import java.time.Duration;

/**
 * Settings of the shared engine.
 *
 * @param transport      the Netty transport; {@link Transport#best()} unless forced
 * @param eventLoops     event loop threads; both sides of a connection always share one loop
 * @param connectTimeout how long an upstream connect may take before the client is reset
 * @param idleTimeout    a connection with no bytes either way for this long is closed
 * @param acceptBacklog  listen(2) backlog of every listener
 * @param limits         connections held at once per pod and per node; more are shed
 */
public record EngineConfig(Transport transport, int eventLoops, Duration connectTimeout, Duration idleTimeout,
                           int acceptBacklog, ConnectionLimits limits) {
    /** Netty takes the connect timeout as int milliseconds; a day is more than any real connect needs. */
    public static final Duration MAX_CONNECT_TIMEOUT = Duration.ofHours(24);
    /** Long enough for any idle connection worth keeping, and far from overflowing milliseconds. */
    public static final Duration MAX_IDLE_TIMEOUT = Duration.ofDays(365);

    public EngineConfig {
        if (eventLoops < 1) {
            throw new IllegalArgumentException("eventLoops must be at least 1, got " + eventLoops);
        }
        if (connectTimeout.isNegative() || connectTimeout.isZero() || connectTimeout.compareTo(MAX_CONNECT_TIMEOUT) > 0) {
            throw new IllegalArgumentException("connectTimeout must be positive and at most " + MAX_CONNECT_TIMEOUT.toHours()
                    + " h, got " + connectTimeout);
        }
        if (idleTimeout.isNegative() || idleTimeout.isZero() || idleTimeout.compareTo(MAX_IDLE_TIMEOUT) > 0) {
            throw new IllegalArgumentException("idleTimeout must be positive and at most " + MAX_IDLE_TIMEOUT.toDays()
                    + " days, got " + idleTimeout);
        }
        java.util.Objects.requireNonNull(limits, "limits");
        if (acceptBacklog < 1) {
            throw new IllegalArgumentException("acceptBacklog must be at least 1, got " + acceptBacklog);
        }
    }

    public static EngineConfig defaults() {
        return defaults(null);
    }

    /** Defaults with the given transport, or the best available one when {@code transport} is null. */
    public static EngineConfig defaults(Transport transport) {
        return new EngineConfig(transport == null ? Transport.best() : transport, Runtime.getRuntime().availableProcessors(),
                Duration.ofSeconds(10), Duration.ofHours(1), 1024, ConnectionLimits.DEFAULTS);
    }

    public EngineConfig withAcceptBacklog(int backlog) {
        return new EngineConfig(transport, eventLoops, connectTimeout, idleTimeout, backlog, limits);
    }

    public EngineConfig withLimits(ConnectionLimits l) {
        return new EngineConfig(transport, eventLoops, connectTimeout, idleTimeout, acceptBacklog, l);
    }

    public EngineConfig withTransport(Transport t) {
        return new EngineConfig(t, eventLoops, connectTimeout, idleTimeout, acceptBacklog, limits);
    }

    public EngineConfig withIdleTimeout(Duration d) {
        return new EngineConfig(transport, eventLoops, connectTimeout, d, acceptBacklog, limits);
    }

    public EngineConfig withConnectTimeout(Duration d) {
        return new EngineConfig(transport, eventLoops, d, idleTimeout, acceptBacklog, limits);
    }
}
