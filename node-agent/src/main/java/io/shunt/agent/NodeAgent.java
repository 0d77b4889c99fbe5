package io.shunt.agent;

import io.shunt.agent.registry.ManagedPod;
import io.shunt.agent.registry.PodRegistry;
import io.shunt.agent.registry.PodSpec;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.HijackException;
import io.shunt.proxy.AttachedPod;
import io.shunt.proxy.ConnectionObserver;
import io.shunt.proxy.ListenerBindException;
import io.shunt.proxy.PodCounters;
import io.shunt.proxy.PodEndpoint;
import io.shunt.proxy.ProxyEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The per-node daemon: intercepts pods by opening their listeners in the shared engine and
 * installing the technique's rules in their namespaces, and undoes both when a pod leaves or the
 * agent stops.
 *
 * <p>Order matters for never black-holing traffic: listeners open before rules divert anything to
 * them, and rules go before listeners close.
 */
public final class NodeAgent implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NodeAgent.class);

    private final AgentConfig config;
    private final TechniqueBinding technique;
    private final ProxyEngine engine;
    private final PodRegistry registry = new PodRegistry();
    private boolean closed;

    private NodeAgent(AgentConfig config) {
        this.config = config;
        this.technique = TechniqueBinding.of(config.technique());
        ConnectionObserver observer = config.logConnections()
                ? summary -> LOG.info("connection {}", summary)
                : summary -> LOG.debug("connection {}", summary);
        this.engine = ProxyEngine.start(config.engine(), observer);
        LOG.info("agent started: technique={} transport={} event_loops={}", config.technique().id(),
                config.engine().transport().id(), config.engine().eventLoops());
    }

    public static NodeAgent start(AgentConfig config) {
        return new NodeAgent(config);
    }

    public AgentConfig config() {
        return config;
    }

    /**
     * Starts intercepting a pod. On any failure, nothing of the pod stays installed or open.
     */
    public synchronized ManagedPod addPod(PodSpec spec) throws IOException {
        if (closed) {
            throw new IllegalStateException("agent is shut down");
        }
        if (registry.get(spec.name()).isPresent()) {
            throw new PodSetupException(spec.name(), "is intercepted already");
        }
        NetNs netns;
        try {
            netns = NetNs.open(spec.netns());
        } catch (IOException e) {
            throw new PodSetupException(spec.name(), "opening its network namespace", e);
        }
        if (registry.containsNetns(netns.inode())) {
            netns.close();
            throw new PodSetupException(spec.name(), "its network namespace " + spec.netns()
                    + " belongs to another pod this agent intercepts already");
        }
        AttachedPod attached;
        try {
            attached = engine.attach(endpoint(spec, netns));
        } catch (ListenerBindException | RuntimeException e) {
            netns.close();
            throw new PodSetupException(spec.name(), "opening its listeners", e);
        }
        try {
            technique.hijacker().install(netns, config.policy());
        } catch (HijackException | RuntimeException e) {
            attached.close();
            netns.close();
            throw new PodSetupException(spec.name(), "installing " + config.technique().id() + " rules", e);
        }
        ManagedPod pod = new ManagedPod(spec, netns, attached, technique.hijacker());
        registry.add(pod);
        LOG.info("pod={} technique={} intercepted: netns={} outbound_listener={} inbound_listener={}",
                spec.name(), config.technique().id(), spec.netns(), addressOf(config.policy().outboundPort(), true),
                config.policy().captureInbound() ? addressOf(config.policy().inboundPort(), false) : "-");
        return pod;
    }

    /**
     * Stops intercepting a pod: its rules are removed first, so no new connection is diverted to
     * a listener that is closing; then its listeners and connections close.
     */
    public synchronized boolean removePod(String name) throws HijackException {
        Optional<ManagedPod> found = registry.remove(name);
        if (found.isEmpty()) {
            return false;
        }
        ManagedPod pod = found.get();
        try {
            pod.hijacker().remove(pod.netns());
        } finally {
            pod.engine().close(true);
            pod.netns().close();
        }
        LOG.info("pod={} technique={} released: rules removed, listeners closed", name, config.technique().id());
        return true;
    }

    public Optional<PodCounters.Snapshot> counters(String pod) {
        return registry.get(pod).map(p -> p.engine().counters());
    }

    public Collection<ManagedPod> pods() {
        return registry.all();
    }

    /** Releases every pod, then stops the engine. Reports every pod whose rules could not be removed. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        List<String> failures = new ArrayList<>();
        HijackException first = null;
        for (ManagedPod pod : registry.all()) {
            try {
                removePod(pod.name());
            } catch (HijackException e) {
                failures.add(pod.name());
                first = first == null ? e : first;
                LOG.error("pod={}: removing rules failed: {}", pod.name(), e.getMessage());
            }
        }
        engine.close();
        LOG.info("agent stopped");
        if (first != null) {
            throw new IOException("could not remove the rules of pods " + failures + " (check them with: "
                    + "ip netns exec <netns> nft list table inet shunt); first error: " + first.getMessage(), first);
        }
    }

    private PodEndpoint endpoint(PodSpec spec, NetNs netns) {
        var policy = config.policy();
        return new PodEndpoint(spec.name(), netns, config.technique().id(),
                addressOf(policy.outboundPort(), true),
                policy.captureInbound() ? addressOf(policy.inboundPort(), false) : null,
                policy.bypassMark(), technique.destination());
    }

    /**
     * DNAT in the OUTPUT hook rewrites a locally generated connection to 127.0.0.1, so the
     * outbound listener needs only loopback; inbound connections keep the pod's own address.
     */
    private static InetSocketAddress addressOf(int port, boolean outbound) {
        return new InetSocketAddress(outbound ? "127.0.0.1" : "0.0.0.0", port);
    }
}
