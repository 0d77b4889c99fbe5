package io.shunt.agent;

import io.shunt.agent.registry.ManagedPod;
import io.shunt.agent.registry.PodRecord;
import io.shunt.agent.registry.PodRegistry;
import io.shunt.agent.registry.PodStore;
import io.shunt.agent.registry.PodExclusions;
import io.shunt.agent.registry.PodSpec;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.HijackException;
import io.shunt.hijack.ListenerSockets;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.nft.NatDrain;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.probe.Feature;
import io.shunt.hijack.probe.KernelFeatures;
import io.shunt.hijack.probe.KernelProbe;
import io.shunt.hijack.probe.LegacyIptables;
import io.shunt.hijack.select.NoTechniqueException;
import io.shunt.hijack.select.Selection;
import io.shunt.hijack.select.Selector;
import io.shunt.hijack.select.Verdict;
import io.shunt.proxy.AttachedPod;
import io.shunt.proxy.ConnectionObserver;
import io.shunt.proxy.Direction;
import io.shunt.proxy.ListenerBindException;
import io.shunt.proxy.PodCounters;
import io.shunt.proxy.PodEndpoint;
import io.shunt.proxy.ProxyEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * The per-node daemon: probes the kernel once, then intercepts each pod with the best technique
 * that works there, by opening its listeners in the shared engine and installing the technique's
 * rules in its namespace; undoes both when a pod leaves or the agent stops.
 *
 * <p>Order matters for never black-holing traffic: listeners open before rules divert anything to
 * them, and rules go before listeners close.
 */
public final class NodeAgent implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NodeAgent.class);

    private final AgentConfig config;
    private final KernelFeatures features;
    private volatile Selector selector;
    private final ProxyEngine engine;
    private final PodRegistry registry = new PodRegistry();
    private final Optional<PodStore> store;
    private final Instant started = Instant.now();
    /** Persisted pods whose namespace exists but that could not be taken back; kept in the state file. */
    private final List<PodRecord> unrecovered = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** How often a moved pod's NAT drain is checked for connections from before the move. */
    private static final Duration DRAIN_CHECK = Duration.ofSeconds(2);
    private final ScheduledExecutorService drains = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("shunt-nat-drain").daemon().factory());
    /** The policy of every pod: the configured one, changed live by {@link #changePolicy}. */
    private volatile CapturePolicy policy;
    private volatile boolean ready;
    private boolean closed;
    /** Set once a successor took the pods over: rules stay when this agent closes. */
    private volatile boolean handedOver;
    /** Set by {@link #leaveRulesOnClose()}: rules and records stay when this agent closes, for the next one. */
    private volatile boolean keepRules;

    private NodeAgent(AgentConfig config, KernelFeatures features, Optional<PodStore> store) {
        this.config = config;
        this.store = store;
        this.features = features;
        this.selector = new Selector(config.ranking());
        this.policy = config.policy();
        ConnectionObserver observer = config.logConnections()
                ? summary -> LOG.atInfo().addKeyValue("pod", summary.pod()).addKeyValue("technique", summary.technique())
                        .log("connection {}", summary.details())
                : summary -> LOG.atDebug().addKeyValue("pod", summary.pod()).addKeyValue("technique", summary.technique())
                        .log("connection {}", summary.details());
        this.engine = ProxyEngine.start(config.engine(), observer);
        LOG.info("agent started: kernel={} transport={} event_loops={} ranking={}", features.kernelRelease(),
                config.engine().transport().id(), config.engine().eventLoops(), selector.assess(features));
    }

    /**
     * Starts the agent after probing the kernel (with {@link AgentConfig#assumeMissing()} masked),
     * without persisting its pods.
     */
    public static NodeAgent start(AgentConfig config) {
        NodeAgent agent = new NodeAgent(config, KernelProbe.run().assumeMissing(config.assumeMissing()), Optional.empty());
        agent.ready = true;
        return agent;
    }

    /**
     * Starts the agent, then takes back the pods persisted in {@code store} by an earlier run: a
     * pod whose namespace still exists gets its interception again (listeners reopened, rules
     * replaced in one transaction, so nothing is installed twice); a pod whose namespace is gone is
     * forgotten, its rules went with it. The agent is {@link #ready()} only after that.
     */
    public static NodeAgent start(AgentConfig config, PodStore store) throws IOException {
        NodeAgent agent = new NodeAgent(config, KernelProbe.run().assumeMissing(config.assumeMissing()),
                Optional.of(store));
        try {
            agent.reconcile(store.load());
        } catch (IOException | RuntimeException e) {
            agent.close();
            throw e;
        }
        agent.ready = true;
        return agent;
    }

    /** Whether the agent has taken back its persisted pods and may accept new ones. */
    public boolean ready() {
        return ready;
    }

    private synchronized void reconcile(List<PodRecord> persisted) throws IOException {
        int kept = 0;
        for (PodRecord record : persisted) {
            PodSpec spec;
            try {
                spec = PodSpec.fromRecord(record);
            } catch (IllegalArgumentException e) {
                LOG.atError().addKeyValue("pod", record.name())
                        .log("persisted record is invalid ({}); forgetting it", e.getMessage());
                continue;
            }
            if (!Files.exists(spec.netns())) {
                LOG.atInfo().addKeyValue("pod", spec.name())
                        .log("its network namespace {} is gone; forgetting it (its rules went with it)", spec.netns());
                continue;
            }
            try {
                releaseOtherTechniques(addPod(spec, false));
                kept++;
            } catch (IOException | RuntimeException e) {
                // Its namespace exists: keep the record, so the next start (or a predecessor still
                // running, in a take-over) does not lose it.
                unrecovered.add(record);
                LOG.atError().addKeyValue("pod", spec.name())
                        .log("could not take it back after restart: {}", e.getMessage());
            }
        }
        persist();
        LOG.info("reconciled: {} of {} persisted pod(s) intercepted again", kept, persisted.size());
    }

    /**
     * A pod taken back follows today's ranking, which may pick another technique than the one the
     * previous agent installed (the ranking changed in between; or a stop with --on-stop keep, or
     * a take-over, left the old rules). The new technique's rules are in; what the others left
     * goes now, as after a live move ({@link #switchTechnique}), or it would keep diverting the
     * pod's connections (tc's hairpin, to listeners that are gone). A technique with nothing there
     * removes nothing.
     */
    private void releaseOtherTechniques(ManagedPod pod) {
        for (TechniqueId other : TechniqueId.values()) {
            if (other == pod.technique()) {
                continue;
            }
            try {
                TechniqueBinding.of(other).hijacker().releaseAfterReplaced(pod.netns());
            } catch (HijackException | RuntimeException e) {
                LOG.atWarn().addKeyValue("pod", pod.name()).addKeyValue("technique", pod.technique().id())
                        .log("could not remove what {} may have left in the pod's namespace: {}", other.id(), e.getMessage());
            }
        }
    }

    private void persist() throws IOException {
        if (store.isPresent() && !handedOver) {
            List<PodRecord> records = new ArrayList<>(registry.all().stream().map(p -> p.spec().toRecord()).toList());
            unrecovered.stream().filter(r -> registry.get(r.name()).isEmpty()).forEach(records::add);
            store.get().save(records);
        }
    }

    /** Pods recorded before the start that could not be taken back: intercepted by nobody right now. */
    public int unrecoveredPods() {
        return unrecovered.size();
    }

    public AgentConfig config() {
        return config;
    }

    public Instant started() {
        return started;
    }

    public CapturePolicy policy() {
        return policy;
    }

    /** The policy a pod's rules implement: the node's, plus the pod's own exclusions. */
    public CapturePolicy policyOf(ManagedPod pod) {
        return pod.spec().exclusions().applyTo(policy);
    }

    /**
     * Replaces a live pod's own exclusions (on top of the node's), in one transaction like any
     * policy change; on failure the pod keeps its rules and its old exclusions.
     */
    public synchronized void setPodExclusions(String podName, PodExclusions exclusions) throws IOException {
        ManagedPod pod = registry.get(podName).orElseThrow(() -> new PodSetupException(podName, "is not intercepted"));
        if (pod.spec().exclusions().equals(exclusions)) {
            return;
        }
        pod.hijacker().install(pod.netns(), exclusions.applyTo(policy), listenersOf(pod.engine()), pod.spec().cgroup());
        registry.replace(new ManagedPod(pod.spec().withExclusions(exclusions), pod.netns(), pod.engine(), pod.hijacker(),
                pod.selection(), pod.foreignLegacyTables()));
        persistQuietly();
        LOG.atInfo().addKeyValue("pod", podName).addKeyValue("technique", pod.technique().id())
                .log("own exclusions now {}", exclusions);
    }

    /**
     * Hands every pod over to a successor agent that has opened its own listeners beside these
     * (SO_REUSEPORT) and taken the rules over: stops accepting (connections still queued move to the
     * successor's listeners, see {@code tcp_migrate_req}), keeps the connections already open until
     * they end or {@link #close()}, and from now on leaves rules and the state file alone.
     */
    public synchronized void handOver() {
        handedOver = true;
        ready = false;
        for (ManagedPod pod : registry.all()) {
            pod.engine().stopAccepting();
        }
        LOG.info("handed {} pod(s) over to the successor agent; serving the open connections until they end",
                registry.all().size());
    }

    /** Whether a successor has taken the pods over ({@link #handOver()}). */
    public boolean handedOver() {
        return handedOver;
    }

    /**
     * From now on, {@link #close()} leaves every pod's rules and the state file as they are and only
     * closes this agent's listeners and connections: the pods' connections are refused (every
     * technique fails closed without its listeners) until the next agent started with the same
     * state file takes them back, exactly as after a crash.
     */
    public void leaveRulesOnClose() {
        keepRules = true;
    }

    /** Connections this agent still serves, over all pods. */
    public long openConnections() {
        return registry.all().stream().mapToLong(p -> p.engine().counters().active()).sum();
    }

    /** The ranking new pods get from now on (pods already intercepted keep their technique). */
    public synchronized void setRanking(List<TechniqueId> ranking) {
        selector = new Selector(ranking);
        LOG.info("ranking for new pods changed to {}: {}", ranking.stream().map(TechniqueId::id).toList(),
                selector.assess(features));
    }

    public List<TechniqueId> ranking() {
        return selector.ranking();
    }

    /** How the node's ranking fares on this kernel: which techniques can be used, and why not. */
    public List<Verdict> assessment() {
        return selector.assess(features);
    }

    /**
     * Applies a new capture policy to every pod at once, live: each pod's rules are replaced in
     * one transaction, so established connections keep flowing and no new one is missed. When
     * one pod cannot take the new rules, the pods already changed get the old ones back and
     * nothing has changed.
     *
     * @return the pods now under the new policy
     * @throws HijackException naming the pod that refused, when nothing was changed
     */
    public synchronized List<String> changePolicy(CapturePolicy next) throws HijackException {
        if (next.outboundPort() != policy.outboundPort() || next.inboundPort() != policy.inboundPort()
                || next.bypassMark() != policy.bypassMark() || next.captureInbound() != policy.captureInbound()) {
            throw new IllegalArgumentException("only the include and exclude lists can change live; listener ports, "
                    + "bypass mark and inbound capture need a restart");
        }
        CapturePolicy before = policy;
        List<ManagedPod> changed = new ArrayList<>();
        for (ManagedPod pod : registry.all()) {
            try {
                pod.hijacker().install(pod.netns(), pod.spec().exclusions().applyTo(next), listenersOf(pod.engine()),
                        pod.spec().cgroup());
                changed.add(pod);
            } catch (HijackException | RuntimeException e) {
                for (ManagedPod undo : changed) {
                    try {
                        undo.hijacker().install(undo.netns(), undo.spec().exclusions().applyTo(before), listenersOf(undo.engine()),
                                undo.spec().cgroup());
                    } catch (HijackException | RuntimeException again) {
                        LOG.atError().addKeyValue("pod", undo.name()).addKeyValue("technique", undo.technique().id())
                                .log("could not put the previous policy back: {}", again.getMessage());
                    }
                }
                throw new HijackException(pod.technique(), "of the new policy for pod " + pod.name(), pod.spec().netns(),
                        e.getMessage() + "; no pod was changed", e);
            }
        }
        policy = next;
        LOG.info("policy changed live for {} pod(s): {}", changed.size(), next);
        return changed.stream().map(ManagedPod::name).toList();
    }

    /**
     * Moves a live pod to another technique without resetting its connections: the pod keeps its
     * listeners (both nftables techniques share one kind), the new technique's rules replace the
     * old ones in one transaction, and the old technique releases the rest of what it had (tproxy:
     * its policy routing). Connections the pod opened under {@code redirect} keep their NAT through
     * a {@link NatDrain} table until they have all ended.
     *
     * <p>Moving away from {@code tproxy} or {@code tc} while the pod has open connections is
     * refused: their packets are steered by that technique's marks and routes (tc: its egress
     * hairpin), which the move removes.
     *
     * @return what was done, for the operator
     * @throws PodSetupException when the move is refused or fails; the pod is then as it was
     */
    public synchronized String switchTechnique(String podName, TechniqueId target) throws IOException {
        ManagedPod pod = registry.get(podName).orElseThrow(() -> new PodSetupException(podName, "is not intercepted"));
        TechniqueId from = pod.technique();
        if (from == target) {
            return "pod " + podName + " uses " + target.id() + " already; nothing changed";
        }
        List<Feature> missing = Selector.requirements(target).stream().filter(f -> !features.has(f)).toList();
        if (!missing.isEmpty()) {
            throw new PodSetupException(podName, "moving it to " + target.id() + ": the kernel lacks "
                    + missing.stream().map(Feature::id).toList() + " (see shuntctl probe)");
        }
        TechniqueBinding fromBinding = TechniqueBinding.of(from);
        TechniqueBinding toBinding = TechniqueBinding.of(target);
        if (!fromBinding.sharesListenersWith(toBinding)) {
            throw new PodSetupException(podName, "moving it from " + from.id() + " to " + target.id()
                    + " live: their listeners differ; release the pod and add it again");
        }
        long open = pod.engine().counters().active();
        if (from == TechniqueId.TPROXY && open > 0) {
            throw new PodSetupException(podName, "moving it from tproxy while it has " + open + " open connection(s): "
                    + "their packets follow tproxy's marks and routes, which the move removes, so they would be reset; "
                    + "retry when they have ended");
        }
        if (from == TechniqueId.TC && open > 0) {
            // the app's packets of a proxied flow reach the proxy only through tc's egress hairpin
            throw new PodSetupException(podName, "moving it from tc while it has " + open + " open connection(s): "
                    + "their packets reach the proxy through tc's egress program and routes, which the move removes, "
                    + "so they would be reset; retry when they have ended");
        }
        Instant movedAt = Instant.now();
        if (from == TechniqueId.REDIRECT) {
            NatDrain.install(pod.netns());
        }
        try {
            toBinding.hijacker().install(pod.netns(), policyOf(pod), listenersOf(pod.engine()), pod.spec().cgroup());
        } catch (HijackException | RuntimeException e) {
            if (from == TechniqueId.REDIRECT) {
                NatDrain.remove(pod.netns());
            }
            throw new PodSetupException(podName, "moving it to " + target.id() + " (it stays on " + from.id() + ")", e);
        }
        fromBinding.hijacker().releaseAfterReplaced(pod.netns());
        pod.engine().relabel(target.id());
        Selection moved = new Selection(target, List.of(new Verdict(target, Verdict.Outcome.CHOSEN,
                "moved live from " + from.id() + " by the operator")));
        ManagedPod now = new ManagedPod(pod.spec().withTechnique(target), pod.netns(), pod.engine(), toBinding.hijacker(),
                moved, pod.foreignLegacyTables());
        registry.replace(now);
        persistQuietly();
        if (from == TechniqueId.REDIRECT) {
            drains.schedule(() -> endDrain(podName, movedAt), DRAIN_CHECK.toMillis(), TimeUnit.MILLISECONDS);
        }
        LOG.atInfo().addKeyValue("pod", podName).addKeyValue("technique", target.id())
                .log("moved live from {} ({} open connection(s) kept)", from.id(), pod.engine().counters().active());
        return "pod " + podName + " moved from " + from.id() + " to " + target.id() + "; "
                + pod.engine().counters().active() + " open connection(s) kept";
    }

    /**
     * Removes a pod's NAT drain once no connection from before the move is open; looks again
     * later while one is. Runs on the drain thread, which starts in the agent's own namespace.
     */
    private void endDrain(String podName, Instant movedAt) {
        synchronized (this) {
            Optional<ManagedPod> pod = registry.get(podName);
            if (pod.isEmpty() || closed) {
                return; // released: removePod took the drain with it
            }
            Duration sinceMove = Duration.between(movedAt, Instant.now());
            boolean oldOnesOpen = pod.get().engine().openConnections(Duration.ofSeconds(2)).stream()
                    .anyMatch(c -> c.duration().compareTo(sinceMove) >= 0);
            if (!oldOnesOpen) {
                try {
                    NatDrain.remove(pod.get().netns());
                    LOG.atInfo().addKeyValue("pod", podName)
                            .log("the connections from before its move have ended; NAT drain removed");
                    return;
                } catch (IOException | RuntimeException e) {
                    LOG.atWarn().addKeyValue("pod", podName)
                            .log("could not remove the NAT drain yet: {}", e.getMessage());
                }
            }
        }
        drains.schedule(() -> endDrain(podName, movedAt), DRAIN_CHECK.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** What the kernel offers, as probed at start (with masked features shown as unsupported). */
    public KernelFeatures features() {
        return features;
    }

    /**
     * Starts intercepting a pod with the best technique that installs there: techniques the
     * kernel lacks are skipped, and one that fails to install is undone before the next is tried.
     * On failure nothing of the pod stays installed or open.
     */
    public synchronized ManagedPod addPod(PodSpec spec) throws IOException {
        return addPod(spec, true);
    }

    private ManagedPod addPod(PodSpec spec, boolean persist) throws IOException {
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
        Installed[] installed = new Installed[1];
        Selection selection;
        try {
            Selector podSelector = spec.technique().map(t -> new Selector(List.of(t))).orElse(selector);
            selection = podSelector.select(features, technique -> installed[0] = install(spec, netns, technique));
        } catch (NoTechniqueException | RuntimeException e) {
            netns.close();
            throw new PodSetupException(spec.name(), "intercepting it", e);
        }
        ManagedPod pod = new ManagedPod(spec, netns, installed[0].attached(), installed[0].binding().hijacker(), selection,
                foreignLegacyTables(spec, netns));
        registry.add(pod);
        if (persist) {
            persistOrUndo(pod);
        }
        for (Verdict v : selection.verdicts()) {
            if (v.outcome() == Verdict.Outcome.FAILED) {
                LOG.atWarn().addKeyValue("pod", spec.name()).addKeyValue("technique", v.technique().id())
                        .log("failed to install, fell back: {}", v.reason());
            }
        }
        LOG.atInfo().addKeyValue("pod", spec.name()).addKeyValue("technique", pod.technique().id())
                .log("intercepted: netns={} outbound_listener={} inbound_listener={} selection=[{}]", spec.netns(),
                        addressOf(policy.outboundPort(), true),
                        policy.captureInbound() ? addressOf(policy.inboundPort(), false) : "-", selection.describe());
        return pod;
    }

    /**
     * Legacy iptables rules are the first install failure of iptables-based meshes: they run
     * beside nftables and can divert or drop what Shunt captures. They are reported, not guessed at.
     */
    private static List<String> foreignLegacyTables(PodSpec spec, NetNs netns) {
        try {
            List<String> tables = LegacyIptables.tablesIn(netns);
            if (!tables.isEmpty()) {
                LOG.atWarn().addKeyValue("pod", spec.name())
                        .log("has legacy iptables tables {} from another tool; their rules run alongside Shunt's "
                        + "nftables rules and may conflict with them (inspect with: nsenter --net={} iptables-legacy-save)", tables, spec.netns());
            }
            return tables;
        } catch (IOException e) {
            LOG.atWarn().addKeyValue("pod", spec.name())
                    .log("could not check for legacy iptables tables: {}", e.getMessage());
            return List.of();
        }
    }

    /** A pod the agent could not record would be lost on restart: undo it rather than keep it unrecorded. */
    private void persistOrUndo(ManagedPod pod) throws IOException {
        try {
            persist();
        } catch (IOException e) {
            registry.remove(pod.name());
            try {
                pod.hijacker().remove(pod.netns());
            } finally {
                pod.engine().close(true);
                pod.netns().close();
            }
            throw new PodSetupException(pod.name(), "recording it in " + store.map(PodStore::file).orElseThrow(), e);
        }
    }

    /** One attempt: listeners first, then rules; a failure of the rules closes the listeners again. */
    private Installed install(PodSpec spec, NetNs netns, TechniqueId technique) throws IOException {
        String defect = technique == TechniqueId.SOCKMAP ? config.engine().transport().skMsgQueueDefect() : "";
        if (!defect.isEmpty()) {
            // measured on 6.18 with Netty 4.2.18: see docs/design.md, "The sockmap technique"
            throw new IOException("sockmap is not used with this transport: " + defect);
        }
        TechniqueBinding binding = TechniqueBinding.of(technique);
        AttachedPod attached = engine.attach(endpoint(spec, netns, binding));
        try {
            binding.hijacker().install(netns, spec.exclusions().applyTo(policy), listenersOf(attached), spec.cgroup());
        } catch (HijackException | RuntimeException e) {
            attached.close();
            throw e;
        }
        return new Installed(binding, attached);
    }

    private record Installed(TechniqueBinding binding, AttachedPod attached) {
    }

    /** The pod's listening sockets, for a technique that hands them to the kernel (tc's SOCKMAP). */
    private static ListenerSockets listenersOf(AttachedPod attached) {
        int inbound;
        try {
            inbound = attached.listenerFd(Direction.INBOUND);
        } catch (IllegalArgumentException noInboundListener) {
            inbound = -1; // inbound capture is off
        }
        return new ListenerSockets(attached.listenerFd(Direction.OUTBOUND), inbound);
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
            NatDrain.remove(pod.netns());
        } catch (HijackException e) {
            throw e;
        } catch (IOException e) {
            throw new HijackException(pod.technique(), "removal of the NAT drain", pod.spec().netns(), e.getMessage(), e);
        } finally {
            pod.engine().close(true);
            pod.netns().close();
            if (!closed) {
                persistQuietly();
            }
        }
        LOG.atInfo().addKeyValue("pod", name).addKeyValue("technique", pod.technique().id())
                .log("released: rules removed, listeners closed");
        return true;
    }

    private void persistQuietly() {
        try {
            persist();
        } catch (IOException e) {
            // The pod is released either way; a stale record is dropped by the next reconcile.
            LOG.error("could not update the pod state file: {}", e.getMessage());
        }
    }

    public Optional<ManagedPod> podByContainer(String containerId) {
        return containerId.isEmpty() ? Optional.empty()
                : registry.all().stream().filter(p -> p.spec().containerId().equals(containerId)).findFirst();
    }

    public Optional<PodCounters.Snapshot> counters(String pod) {
        return registry.get(pod).map(p -> p.engine().counters());
    }

    public Optional<ManagedPod> pod(String name) {
        return registry.get(name);
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
        ready = false;
        if (handedOver || keepRules) {
            // The successor (or the next agent, from the state file) owns the rules now; only our sockets go.
            for (ManagedPod pod : registry.all()) {
                pod.engine().close(true);
                pod.netns().close();
            }
            drains.shutdownNow();
            engine.close();
            if (handedOver) {
                LOG.info("agent stopped after the hand-over; rules left to the successor");
            } else {
                LOG.info("agent stopped, rules left in place: {} pod(s) refuse connections until the next agent takes "
                        + "them back from the state file", registry.all().size());
            }
            return;
        }
        List<String> failures = new ArrayList<>();
        HijackException first = null;
        for (ManagedPod pod : registry.all()) {
            try {
                removePod(pod.name());
            } catch (HijackException e) {
                failures.add(pod.name());
                first = first == null ? e : first;
                LOG.atError().addKeyValue("pod", pod.name()).log("removing rules failed: {}", e.getMessage());
            }
        }
        drains.shutdownNow();
        engine.close();
        LOG.info("agent stopped");
        if (first != null) {
            throw new IOException("could not remove the rules of pods " + failures + " (check them with: "
                    + "ip netns exec <netns> nft list table inet shunt); first error: " + first.getMessage(), first);
        }
    }

    private PodEndpoint endpoint(PodSpec spec, NetNs netns, TechniqueBinding binding) {
        return new PodEndpoint(spec.name(), netns, binding.technique().id(),
                addressOf(policy.outboundPort(), true),
                policy.captureInbound() ? addressOf(policy.inboundPort(), false) : null,
                policy.bypassMark(), binding.destination(), binding.transparentListeners(), binding.readCredit());
    }

    /**
     * Outbound connections reach the outbound listener on loopback: DNAT in the OUTPUT hook
     * rewrites them to 127.0.0.1, and TPROXY on lo hands them to 127.0.0.1:15001. Inbound
     * connections keep the pod's own address.
     */
    public static InetSocketAddress addressOf(int port, boolean outbound) {
        return new InetSocketAddress(outbound ? "127.0.0.1" : "0.0.0.0", port);
    }
}
