package io.shunt.agent.admin;

import io.shunt.agent.NodeAgent;
import io.shunt.agent.registry.ManagedPod;
import io.shunt.api.admin.AdminReply;
import io.shunt.api.admin.AdminReply.ErrorKind;
import io.shunt.api.admin.AdminRequest;
import io.shunt.api.admin.AdminWire;
import io.shunt.api.admin.Views;
import io.shunt.hijack.HijackException;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Decision;
import io.shunt.hijack.probe.Feature;
import io.shunt.hijack.select.Verdict;
import io.shunt.proxy.ConnectionSummary;
import io.shunt.proxy.PodCounters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * The admin API's commands, on top of the agent. Each returns one of {@link Views}; a command
 * that cannot be done as asked changes nothing and says why in one line.
 */
public final class AdminService {
    private static final Logger LOG = LoggerFactory.getLogger(AdminService.class);
    private static final Duration SNAPSHOT_TIMEOUT = Duration.ofSeconds(2);

    private final NodeAgent agent;
    private final String version;
    private final Lifecycle lifecycle;
    private final java.util.Optional<ExclusionJournal> journal;
    private final java.util.Optional<RankingJournal> rankingJournal;
    /** Between handover-prepare and its abort: the successor has read the state and the journals already. */
    private volatile boolean handOverPrepared;
    private final Object liveChanges = new Object();

    /** What the agent process does beyond the pods: uninstall from the node, hand over to a successor, stop. */
    public interface Lifecycle {
        /** Removes what the agent installed outside pods; returns what is left afterwards. */
        List<String> removeNodeInstall();

        /** Stops the agent after the reply went out. */
        void stopAgent();

        /** Upgrade, step 1: stop taking new pods (CNI) so the successor's view of the pods is final. */
        String prepareHandOver();

        /** Upgrade, step 2: the successor listens and owns the rules; stop accepting, drain, exit. */
        String releaseHandOver();

        /** Upgrade abandoned after step 1 (the successor could not take every pod): take new pods again. */
        String abortHandOver();
    }

    public AdminService(NodeAgent agent, String version, Lifecycle lifecycle) {
        this(agent, version, lifecycle, java.util.Optional.empty());
    }

    /** @param journal where live exclusion changes are recorded for the next start, if the agent keeps state */
    public AdminService(NodeAgent agent, String version, Lifecycle lifecycle, java.util.Optional<ExclusionJournal> journal) {
        this(agent, version, lifecycle, journal, java.util.Optional.empty());
    }

    /** @param rankingJournal where the ranking set with {@code technique set --default} is kept for the next start */
    public AdminService(NodeAgent agent, String version, Lifecycle lifecycle, java.util.Optional<ExclusionJournal> journal,
                        java.util.Optional<RankingJournal> rankingJournal) {
        this.agent = agent;
        this.version = version;
        this.lifecycle = lifecycle;
        this.journal = journal;
        this.rankingJournal = rankingJournal;
    }

    public AdminReply handle(AdminRequest request) {
        if (request.version() != AdminWire.VERSION) {
            return AdminReply.failure(ErrorKind.BAD_REQUEST, "admin API version " + request.version()
                    + " is not supported; this agent speaks version " + AdminWire.VERSION + " (use a shuntctl of the same release)");
        }
        try {
            Object result = switch (request.command()) {
                case "status" -> status();
                case "probe" -> probe();
                case "pods" -> agent.pods().stream().sorted(Comparator.comparing(ManagedPod::name)).map(this::pod).toList();
                case "rules" -> rules(request.arg("pod"));
                case "explain" -> explain(request.arg("pod"), request.arg("destination"));
                case "exclude-list" -> policy(agent.policy());
                case "exclude-add" -> liveChange(() -> exclude(request, true));
                case "exclude-remove" -> liveChange(() -> exclude(request, false));
                case "technique-set" -> liveChange(() -> techniqueSet(request.arg("pod"), request.arg("technique")));
                case "conns" -> conns(request.arg("pod"));
                case "stats" -> stats();
                case "uninstall" -> uninstall();
                case "handover-prepare" -> new Views.Change(prepareHandOver(), List.of(), Map.of());
                case "handover-release" -> new Views.Change(lifecycle.releaseHandOver(), List.of(), Map.of());
                case "handover-abort" -> {
                    handOverPrepared = false;
                    yield new Views.Change(lifecycle.abortHandOver(), List.of(), Map.of());
                }
                default -> throw new AdminException(ErrorKind.BAD_REQUEST, "unknown admin command '" + request.command() + "'");
            };
            return AdminReply.success(AdminWire.JSON.valueToTree(result));
        } catch (AdminException e) {
            return AdminReply.failure(e.kind(), e.getMessage());
        } catch (RuntimeException e) {
            LOG.error("admin {} failed", request.command(), e);
            return AdminReply.failure(ErrorKind.FAILED, request.command() + " failed in the agent: " + e);
        }
    }

    /** A command that changes what a successor reads from the state file and the journals. */
    @FunctionalInterface
    private interface LiveChange {
        Object run() throws AdminException;
    }

    /**
     * A live change after handover-prepare would be lost: the successor has read the state file
     * and the journals, and installs its rules from what it read. Changes and the prepare step
     * exclude each other, so none slips in between.
     */
    private Object liveChange(LiveChange change) throws AdminException {
        synchronized (liveChanges) {
            if (handOverPrepared) {
                throw new AdminException(ErrorKind.NOT_READY, "a new agent is taking this one's pods over (--take-over); "
                        + "nothing changed: retry in a moment, once the new agent answers");
            }
            return change.run();
        }
    }

    private String prepareHandOver() {
        synchronized (liveChanges) {
            String prepared = lifecycle.prepareHandOver();
            handOverPrepared = true; // before the reply: the successor reads the journals once it has it
            return prepared;
        }
    }

    private Views.Status status() {
        Map<String, Integer> byTechnique = new TreeMap<>();
        agent.pods().forEach(p -> byTechnique.merge(p.technique().id(), 1, Integer::sum));
        var engine = agent.config().engine();
        return new Views.Status(version, agent.ready(), Duration.between(agent.started(), Instant.now()).toMillis(),
                agent.features().kernelRelease(), engine.transport().id(), engine.eventLoops(),
                agent.ranking().stream().map(t -> t.id()).toList(), verdicts(agent.assessment()),
                agent.pods().size(), byTechnique, policy(agent.policy()));
    }

    private Views.Probe probe() {
        var features = agent.features();
        List<Views.Feature> list = Arrays.stream(Feature.values())
                .map(f -> new Views.Feature(f.id(), features.has(f), features.result(f).text())).toList();
        return new Views.Probe(features.kernelRelease(), list, verdicts(agent.assessment()));
    }

    static List<Views.Verdict> verdicts(List<Verdict> verdicts) {
        return verdicts.stream().map(v -> new Views.Verdict(v.technique().id(), v.outcome().word(), v.reason())).toList();
    }

    private Views.Pod pod(ManagedPod pod) {
        PodCounters.Snapshot c = pod.engine().counters();
        List<String> warnings = pod.foreignLegacyTables().isEmpty() ? List.of()
                : List.of("legacy iptables tables " + pod.foreignLegacyTables() + " from another tool run beside Shunt's rules");
        return new Views.Pod(pod.name(), pod.spec().netns().toString(), pod.technique().id(), pod.spec().containerId(),
                pod.spec().network(), pod.selection().describe(), c.accepted(), c.active(), c.bytesFromClients(),
                c.bytesFromUpstreams(), warnings);
    }

    private List<Views.Rules> rules(String podName) throws AdminException {
        List<Views.Rules> rules = new ArrayList<>();
        for (ManagedPod pod : selected(podName)) {
            rules.add(new Views.Rules(pod.name(), pod.technique().id(), installed(pod).orElse("")));
        }
        return rules;
    }

    private Views.Explain explain(String podName, String destination) throws AdminException {
        if (podName.isEmpty()) {
            throw new AdminException(ErrorKind.BAD_REQUEST, "explain needs a pod");
        }
        ManagedPod pod = selected(podName).getFirst();
        InetSocketAddress dest = DestinationParser.parse(destination);
        CapturePolicy policy = agent.policyOf(pod);
        Decision decision = policy.decideOutbound(dest.getAddress(), dest.getPort());
        String installed = installed(pod).orElseThrow(() -> new AdminException(ErrorKind.FAILED,
                "pod " + pod.name() + " has no Shunt rules installed now (removed by hand?); `shuntctl rules "
                        + pod.name() + "` shows what is there"));
        String kernelRule = KernelRuleFinder.ruleFor(decision, installed).orElse("(no matching rule found in the installed "
                + "ruleset: it differs from what the agent installed; check `shuntctl rules " + pod.name() + "`)");
        String rule = switch (decision.reason()) {
            case EXCLUDED_CIDR -> "excludeOutboundCidrs " + decision.matched().orElse("") + ownOrNode(pod, decision);
            case EXCLUDED_PORT -> "excludeOutboundPorts " + decision.matched().orElse("") + ownOrNode(pod, decision);
            case NOT_INCLUDED -> "includeOutboundCidrs " + policy.includeOutboundCidrs();
            case LOCAL_DESTINATION -> "local destination";
            case NOT_IPV4 -> "IPv4 only";
            case CAPTURED -> "capture";
        };
        String listener = decision.captured() ? address(NodeAgent.addressOf(policy.outboundPort(), true)) : "";
        return new Views.Explain(pod.name(), pod.technique().id(), address(dest), decision.captured(),
                decision.explain(), rule, listener, kernelRule);
    }

    /** Whether the entry that decided is the pod's own (e.g. from an annotation) rather than the node's. */
    private String ownOrNode(ManagedPod pod, Decision decision) {
        String matched = decision.matched().orElse("");
        boolean node = agent.policy().excludeOutboundCidrs().stream().anyMatch(c -> c.toString().equals(matched))
                || agent.policy().excludeOutboundPorts().stream().anyMatch(p -> p.toString().equals(matched));
        return node ? "" : " (the pod's own exclusion)";
    }

    private Views.Change exclude(AdminRequest request, boolean add) throws AdminException {
        Exclusion<?> exclusion = Exclusion.parse(request.arg("kind"), request.arg("value"));
        CapturePolicy before = agent.policy();
        CapturePolicy next = add ? exclusion.addTo(before) : exclusion.removeFrom(before);
        String what = request.arg("kind") + " " + request.arg("value");
        if (next.equals(before)) {
            return new Views.Change(what + " is excluded already; nothing changed", List.of(), Map.of());
        }
        try {
            List<String> applied = agent.changePolicy(next);
            if (journal.isPresent()) {
                try {
                    journal.get().record(request.arg("kind"), request.arg("value"), add);
                } catch (IOException e) {
                    LOG.error("the change is live but could not be recorded in {}: {}; a restart will not keep it",
                            journal.get().file(), e.getMessage());
                }
            }
            return new Views.Change((add ? "excluded " : "no longer excluded: ") + what + " on " + applied.size()
                    + " pod(s)", applied, Map.of());
        } catch (HijackException e) {
            throw new AdminException(ErrorKind.FAILED, e.getMessage());
        }
    }

    /** One pod to another technique, live; or, with no pod, the ranking for pods added from now on. */
    private Views.Change techniqueSet(String podName, String techniqueText) throws AdminException {
        List<TechniqueId> ranking;
        try {
            ranking = Arrays.stream(techniqueText.split(",")).map(String::strip).map(TechniqueId::fromId).toList();
        } catch (IllegalArgumentException e) {
            throw new AdminException(ErrorKind.BAD_REQUEST, e.getMessage());
        }
        if (podName.isEmpty()) {
            agent.setRanking(ranking);
            String kept = "";
            if (rankingJournal.isPresent()) {
                try {
                    rankingJournal.get().record(agent.ranking());
                    kept = "; kept across restarts in " + rankingJournal.get().file();
                } catch (IOException e) {
                    LOG.error("the ranking is live but could not be recorded in {}: {}; a restart will not keep it",
                            rankingJournal.get().file(), e.getMessage());
                    kept = "; NOT kept across restarts: " + e.getMessage();
                }
            }
            return new Views.Change("pods added from now on are ranked " + techniqueText
                    + "; pods already intercepted keep their technique" + kept, List.of(), Map.of());
        }
        if (ranking.size() != 1) {
            throw new AdminException(ErrorKind.BAD_REQUEST, "a pod is moved to one technique, not '" + techniqueText + "'");
        }
        ManagedPod pod = selected(podName).getFirst();
        try {
            String done = agent.switchTechnique(pod.name(), ranking.getFirst());
            return new Views.Change(done, List.of(pod.name()), Map.of());
        } catch (IOException e) {
            throw new AdminException(ErrorKind.FAILED, e.getMessage());
        }
    }

    private List<Views.Connection> conns(String podName) throws AdminException {
        List<Views.Connection> conns = new ArrayList<>();
        for (ManagedPod pod : selected(podName)) {
            for (ConnectionSummary c : pod.engine().openConnections(SNAPSHOT_TIMEOUT)) {
                conns.add(new Views.Connection(c.pod(), c.technique(), c.direction().id(), address(c.client()),
                        address(c.originalDestination()), c.bytesFromClient(), c.bytesFromUpstream(),
                        c.duration().toMillis()));
            }
        }
        conns.sort(Comparator.comparing(Views.Connection::pod).thenComparing(Views.Connection::ageMillis,
                Comparator.reverseOrder()));
        return conns;
    }

    private Views.Stats stats() {
        List<Views.PodStats> pods = agent.pods().stream().sorted(Comparator.comparing(ManagedPod::name)).map(p -> {
            PodCounters.Snapshot c = p.engine().counters();
            return new Views.PodStats(p.name(), p.technique().id(), c.accepted(), c.active(), c.upstreamFailures(),
                    c.destinationMisses(), c.bytesFromClients(), c.bytesFromUpstreams());
        }).toList();
        Views.PodStats total = new Views.PodStats("(all)", "", pods.stream().mapToLong(Views.PodStats::accepted).sum(),
                pods.stream().mapToLong(Views.PodStats::active).sum(),
                pods.stream().mapToLong(Views.PodStats::upstreamFailures).sum(),
                pods.stream().mapToLong(Views.PodStats::destinationMisses).sum(),
                pods.stream().mapToLong(Views.PodStats::bytesFromClients).sum(),
                pods.stream().mapToLong(Views.PodStats::bytesFromUpstreams).sum());
        return new Views.Stats(pods, total);
    }

    /** Releases every pod, verifies each namespace is clean, removes the node install, then stops the agent. */
    private Views.Uninstall uninstall() {
        List<Views.Released> released = new ArrayList<>();
        List<String> remaining = new ArrayList<>();
        for (ManagedPod pod : agent.pods().stream().sorted(Comparator.comparing(ManagedPod::name)).toList()) {
            try {
                agent.removePod(pod.name());
                released.add(new Views.Released(pod.name(), pod.technique().id(), pod.spec().netns().toString()));
            } catch (HijackException e) {
                remaining.add("pod " + pod.name() + ": " + e.getMessage());
            }
        }
        remaining.addAll(lifecycle.removeNodeInstall());
        LOG.info("uninstall: released {} pod(s); {}", released.size(),
                remaining.isEmpty() ? "nothing of Shunt remains" : "still there: " + remaining);
        lifecycle.stopAgent();
        return new Views.Uninstall(released, remaining);
    }

    private List<ManagedPod> selected(String podName) throws AdminException {
        if (podName.isEmpty()) {
            return agent.pods().stream().sorted(Comparator.comparing(ManagedPod::name)).toList();
        }
        return List.of(agent.pod(podName).orElseThrow(() -> new AdminException(ErrorKind.NOT_FOUND,
                "no pod \"" + podName + "\" is intercepted on this node; intercepted: " + names(agent.pods()))));
    }

    private Optional<String> installed(ManagedPod pod) throws AdminException {
        try {
            return pod.hijacker().installed(pod.netns());
        } catch (HijackException e) {
            throw new AdminException(ErrorKind.FAILED, e.getMessage());
        }
    }

    static Views.Policy policy(CapturePolicy p) {
        return new Views.Policy(p.outboundPort(), p.inboundPort(), "0x" + Integer.toHexString(p.bypassMark()),
                p.captureInbound(), strings(p.includeOutboundCidrs()), strings(p.excludeOutboundCidrs()),
                strings(p.excludeOutboundPorts()), strings(p.excludeInboundPorts()), strings(p.excludeOutboundOwners()));
    }

    private static List<String> strings(List<?> list) {
        return list.stream().map(Object::toString).toList();
    }

    private static String names(Collection<ManagedPod> pods) {
        return pods.isEmpty() ? "none" : pods.stream().map(ManagedPod::name).sorted().collect(Collectors.joining(", "));
    }

    static String address(InetSocketAddress a) {
        if (a == null) {
            return "";
        }
        InetAddress ip = a.getAddress();
        String host = ip == null ? a.getHostString() : ip.getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }
}
