package io.shunt.agent;

import io.shunt.agent.cni.CniHandler;
import io.shunt.agent.registry.ManagedPod;
import io.shunt.agent.registry.PodSpec;
import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.ffi.netns.NetNsException;
import io.shunt.hijack.HijackException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The agent's answers to the CNI plugin. A pod is known by its CNI container id; its name in the
 * registry is {@code namespace/name} when the runtime passed Kubernetes arguments, else the short
 * container id.
 */
public final class CniPods implements CniHandler {
    private static final Logger LOG = LoggerFactory.getLogger(CniPods.class);
    private static final Pattern NAME_PART = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    private final NodeAgent agent;
    private final PodAdmission admission;
    private final Optional<KubeletPodCgroups> cgroups;
    /** What each pod's rules looked like right after install, for CHECK to compare against. */
    private final Map<String, String> installedAtAdd = new ConcurrentHashMap<>();

    public CniPods(NodeAgent agent) {
        this(agent, PodAdmission.of(OptOut.NONE));
    }

    public CniPods(NodeAgent agent, PodAdmission admission) {
        this(agent, admission, Optional.empty());
    }

    /** With {@code cgroups}, a pod whose K8S_POD_UID names a kubelet pod group gets it (for sockmap). */
    public CniPods(NodeAgent agent, PodAdmission admission, Optional<KubeletPodCgroups> cgroups) {
        this.agent = agent;
        this.admission = admission;
        this.cgroups = cgroups;
    }

    @Override
    public boolean ready() {
        return agent.ready() && admission.ready();
    }

    /**
     * Synchronized, like the other calls that change pods: a repeated ADD racing the first must
     * see the pod the first one installs (the agent serialises pod changes anyway).
     */
    @Override
    public synchronized CniReply add(CniRequest request) {
        Optional<ManagedPod> existing = agent.podByContainer(request.containerId());
        if (existing.isPresent()) {
            // A runtime may repeat an ADD after a timeout; the pod is intercepted already.
            return CniReply.success(existing.get().technique().id());
        }
        PodAdmission.Admission admitted = admission.decide(request.podNamespace(), request.podName());
        if (admitted.skip().isPresent()) {
            LOG.atInfo().addKeyValue("pod", request.podNamespace() + "/" + request.podName())
                    .log("container={} skipped, not intercepted: {}", short12(request), admitted.skip().get());
            return CniReply.skipped("not intercepted: " + admitted.skip().get());
        }
        PodSpec spec;
        try {
            spec = new PodSpec(podName(request), Path.of(request.netns())).withContainerId(request.containerId())
                    .withNetwork(request.network()).withExclusions(admitted.exclusions());
            if (admitted.technique().isPresent()) {
                spec = spec.withTechnique(admitted.technique().get());
            }
            Optional<Path> cgroup = cgroups.flatMap(c -> c.find(request.podUid()));
            if (cgroup.isPresent()) {
                spec = spec.withCgroup(cgroup.get());
            }
        } catch (IllegalArgumentException e) {
            return CniReply.failure(CniReply.INVALID_ENVIRONMENT, "invalid pod for container " + short12(request), e.getMessage());
        }
        try {
            ManagedPod pod = agent.addPod(spec);
            pod.hijacker().installed(pod.netns()).ifPresent(rules -> installedAtAdd.put(request.containerId(), rules));
            return CniReply.success(pod.technique().id());
        } catch (IOException | RuntimeException e) {
            boolean badNetns = e.getCause() instanceof NetNsException;
            return CniReply.failure(badNetns ? CniReply.INVALID_ENVIRONMENT : CniReply.INTERCEPTION_FAILED,
                    badNetns ? "CNI_NETNS " + request.netns() + " is not a usable network namespace"
                            : "could not intercept pod " + spec.name(), e.getMessage());
        }
    }

    @Override
    public synchronized CniReply delete(CniRequest request) {
        Optional<ManagedPod> pod = agent.podByContainer(request.containerId());
        if (pod.isEmpty()) {
            return CniReply.success("");
        }
        installedAtAdd.remove(request.containerId());
        try {
            agent.removePod(pod.get().name());
            return CniReply.success(pod.get().technique().id());
        } catch (HijackException e) {
            return CniReply.failure(CniReply.IO_FAILURE, "could not remove the interception of pod " + pod.get().name(),
                    e.getMessage());
        }
    }

    @Override
    public CniReply check(CniRequest request) {
        Optional<ManagedPod> found = agent.podByContainer(request.containerId());
        Optional<String> skip = admission.decide(request.podNamespace(), request.podName()).skip();
        if (found.isEmpty() && skip.isPresent()) {
            return CniReply.skipped("not intercepted: " + skip.get());
        }
        if (found.isEmpty()) {
            return CniReply.failure(CniReply.CONTAINER_UNKNOWN, "the shunt agent does not intercept container "
                    + short12(request), "no ADD was recorded for it, or the agent lost it");
        }
        ManagedPod pod = found.get();
        try {
            Optional<String> now = pod.hijacker().installed(pod.netns());
            String expected = installedAtAdd.get(request.containerId());
            if (now.isEmpty()) {
                return CniReply.failure(CniReply.CHECK_FAILED, "the interception rules of pod " + pod.name() + " are gone",
                        "expected:\n" + expected);
            }
            if (expected != null && !expected.equals(now.get())) {
                return CniReply.failure(CniReply.CHECK_FAILED, "the interception rules of pod " + pod.name()
                        + " were changed", "expected:\n" + expected + "\nfound:\n" + now.get());
            }
            return CniReply.success(pod.technique().id());
        } catch (HijackException e) {
            return CniReply.failure(CniReply.IO_FAILURE, "could not read the rules of pod " + pod.name(), e.getMessage());
        }
    }

    @Override
    public CniReply status() {
        return ready() ? CniReply.success("")
                : CniReply.failure(CniReply.PLUGIN_NOT_AVAILABLE, "the shunt agent is starting", "");
    }

    @Override
    public synchronized CniReply gc(CniRequest request) {
        Set<String> valid = new HashSet<>(request.validContainerIds());
        int released = 0;
        for (ManagedPod pod : agent.pods()) {
            String id = pod.spec().containerId();
            // Only this network's pods: another network that also chains shunt-cni has its own GC.
            if (!id.isEmpty() && pod.spec().network().equals(request.network()) && !valid.contains(id)) {
                try {
                    agent.removePod(pod.name());
                    installedAtAdd.remove(id);
                    released++;
                } catch (HijackException e) {
                    LOG.atWarn().addKeyValue("pod", pod.name())
                            .log("GC could not remove its interception: {}", e.getMessage());
                }
            }
        }
        LOG.info("CNI GC of network \"{}\": released {} pod(s) the runtime no longer has", request.network(), released);
        return CniReply.success("");
    }

    /** {@code namespace/name} for Kubernetes pods, unique among live pods; else the short container id. */
    private String podName(CniRequest request) {
        if (NAME_PART.matcher(request.podNamespace()).matches() && NAME_PART.matcher(request.podName()).matches()) {
            String name = request.podNamespace() + "/" + request.podName();
            // A restarted pod's new sandbox can arrive before the old one is deleted.
            return agent.pod(name).isPresent() ? name + "-" + short12(request) : name;
        }
        return short12(request);
    }

    private static String short12(CniRequest request) {
        String id = request.containerId();
        return id.length() > 12 ? id.substring(0, 12) : id;
    }
}
