package io.shunt.agent.kube;

import io.shunt.agent.NodeAgent;
import io.shunt.agent.OptOut;
import io.shunt.agent.PodAdmission;
import io.shunt.agent.registry.ManagedPod;
import io.shunt.agent.registry.PodExclusions;
import io.shunt.k8s.PodEvents;
import io.shunt.k8s.PodIntent;
import io.shunt.k8s.ShuntAnnotations;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Applies what the Kubernetes watcher reports to the agent: a pod's annotations decide whether
 * and how the runtime's next ADD intercepts it, and a change to them is applied to the live pod
 * (opted out: released; another technique: moved live; other exclusions: its rules replaced). A
 * pod deleted from the API is released even if the runtime's DEL never comes.
 *
 * <p>Pods intercepted through CNI are named {@code namespace/name}, which is how an intent finds
 * its pod. Runs on the watcher's one event thread, a platform thread in the agent's namespace.
 */
public final class KubePodSync implements PodEvents, PodAdmission {
    private static final Logger LOG = LoggerFactory.getLogger(KubePodSync.class);

    private final NodeAgent agent;
    private final OptOut optOut;
    private final Map<String, PodIntent> intents = new ConcurrentHashMap<>();
    private volatile boolean synced;

    public KubePodSync(NodeAgent agent, OptOut optOut) {
        this.agent = agent;
        this.optOut = optOut;
    }

    @Override
    public Admission decide(String namespace, String name) {
        Optional<String> nodeSkip = optOut.reason(namespace, name);
        if (nodeSkip.isPresent()) {
            return new Admission(nodeSkip, Optional.empty(), PodExclusions.NONE);
        }
        PodIntent intent = intents.get(namespace + "/" + name);
        if (intent == null) {
            // Not seen yet (the ADD can race the watch): the node's defaults now, the annotations when they arrive.
            return Admission.DEFAULT;
        }
        ShuntAnnotations a = intent.annotations();
        if (!a.intercept()) {
            return new Admission(Optional.of("annotation " + ShuntAnnotations.INTERCEPT + "=false"), Optional.empty(),
                    PodExclusions.NONE);
        }
        return new Admission(Optional.empty(), a.technique(), exclusions(a));
    }

    @Override
    public boolean ready() {
        return synced;
    }

    @Override
    public void upserted(PodIntent intent) {
        intents.put(intent.ref(), intent);
        Optional<ManagedPod> live = agent.pod(intent.ref());
        if (live.isEmpty()) {
            return;
        }
        ShuntAnnotations a = intent.annotations();
        try {
            if (!a.intercept()) {
                agent.removePod(intent.ref());
                LOG.atInfo().addKeyValue("pod", intent.ref())
                        .log("released: annotation {}=false", ShuntAnnotations.INTERCEPT);
                return;
            }
            if (a.technique().isPresent() && a.technique().get() != live.get().technique()) {
                LOG.atInfo().addKeyValue("pod", intent.ref()).addKeyValue("technique", live.get().technique().id())
                        .log("annotation {} asks for {}", ShuntAnnotations.TECHNIQUE, a.technique().get().id());
                LOG.info("{}", agent.switchTechnique(intent.ref(), a.technique().get()));
            }
            agent.setPodExclusions(intent.ref(), exclusions(a));
        } catch (IOException | RuntimeException e) {
            LOG.atWarn().addKeyValue("pod", intent.ref())
                    .log("could not apply its annotations ({}): {}", a.describe(), e.getMessage());
        }
    }

    @Override
    public void deleted(String namespace, String name, String uid) {
        String ref = namespace + "/" + name;
        intents.remove(ref);
        if (agent.pod(ref).isPresent()) {
            try {
                agent.removePod(ref);
                LOG.atInfo().addKeyValue("pod", ref).log("released: deleted from the Kubernetes API (uid {})", uid);
            } catch (IOException e) {
                LOG.atWarn().addKeyValue("pod", ref)
                        .log("deleted from the API but its rules could not be removed: {}", e.getMessage());
            }
        }
    }

    @Override
    public void synced() {
        synced = true;
        LOG.info("kubernetes: listed this node's pods ({} with Shunt annotations known); admitting pods now",
                intents.size());
    }

    private static PodExclusions exclusions(ShuntAnnotations a) {
        return new PodExclusions(a.excludeOutboundCidrs(), a.excludeOutboundPorts(), a.excludeInboundPorts());
    }
}
