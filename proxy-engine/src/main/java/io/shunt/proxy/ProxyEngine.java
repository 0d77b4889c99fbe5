package io.shunt.proxy;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The node's one shared proxy: a set of event loops serving the listeners of every attached pod.
 * Start it from a thread in the agent's own network namespace; event loop threads inherit it.
 */
public final class ProxyEngine implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ProxyEngine.class);
    private final EngineConfig config;
    private final EventLoopGroup group;
    private final ConnectionObserver observer;

    private ProxyEngine(EngineConfig config, ConnectionObserver observer) {
        this.config = config;
        this.observer = observer;
        // DefaultThreadFactory makes platform threads: setns() applies to one OS thread.
        this.group = new MultiThreadIoEventLoopGroup(config.eventLoops(),
                new DefaultThreadFactory("shunt-loop", true), config.transport().ioHandlerFactory());
    }

    public static ProxyEngine start(EngineConfig config, ConnectionObserver observer) {
        if (!config.transport().isAvailable()) {
            throw new IllegalStateException("transport " + config.transport().id() + " is not available here: "
                    + config.transport().unavailabilityCause());
        }
        return new ProxyEngine(config, observer);
    }

    public EngineConfig config() {
        return config;
    }

    /**
     * Opens the pod's listeners inside its namespace. Either all of them open or none stays open.
     */
    /** Connections of all pods open now, against {@link ConnectionLimits#perNode()}. */
    private final java.util.concurrent.atomic.AtomicInteger nodeConnections = new java.util.concurrent.atomic.AtomicInteger();

    public AttachedPod attach(PodEndpoint pod) throws ListenerBindException {
        migrateQueuedConnectionsOnClose(pod);
        PodSockets sockets = new PodSockets(pod, config.transport());
        PodCounters counters = new PodCounters();
        ChannelGroup connections = new DefaultChannelGroup("pod " + pod.pod(), GlobalEventExecutor.INSTANCE);
        AtomicReference<String> technique = new AtomicReference<>(pod.technique());
        ConnectionGate gate = new ConnectionGate(config.limits(), nodeConnections);
        List<PodListener> opened = new ArrayList<>(2);
        try {
            opened.add(PodListener.open(group, config, sockets, pod, Direction.OUTBOUND, pod.outbound(),
                    counters, gate, connections, technique, observer));
            if (pod.inbound() != null) {
                opened.add(PodListener.open(group, config, sockets, pod, Direction.INBOUND, pod.inbound(),
                        counters, gate, connections, technique, observer));
            }
        } catch (ListenerBindException | RuntimeException e) {
            opened.forEach(PodListener::close);
            throw e;
        }
        return new AttachedPod(pod, opened, connections, counters, technique);
    }

    /**
     * When one listener of a SO_REUSEPORT group closes (the old agent after an upgrade), the kernel
     * resets the connections still queued on it unless net.ipv4.tcp_migrate_req is on in that
     * namespace; with it, they move to the successor's listener. Set in the pod's namespace only,
     * where it matters for nothing but reuseport groups. Best effort: without it an upgrade may
     * reset the few connections that were queued at that instant.
     */
    private static void migrateQueuedConnectionsOnClose(PodEndpoint pod) {
        try {
            pod.netns().run(() -> {
                java.nio.file.Files.writeString(java.nio.file.Path.of("/proc/sys/net/ipv4/tcp_migrate_req"), "1");
                return null;
            });
        } catch (IOException | RuntimeException e) {
            LOG.atWarn().addKeyValue("pod", pod.pod()).log("could not turn on net.ipv4.tcp_migrate_req in {}: {}; an "
                    + "agent upgrade may reset connections queued at the moment of hand-over", pod.netns().path(),
                    e.getMessage());
        }
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    }
}
