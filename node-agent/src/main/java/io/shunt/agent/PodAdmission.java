package io.shunt.agent;

import io.shunt.agent.registry.PodExclusions;
import io.shunt.hijack.TechniqueId;

import java.util.Optional;

/**
 * What the agent does with a pod the runtime adds: skip it, or intercept it with its own
 * technique and exclusions. Decided from the node's opt-out list and, with Kubernetes, the pod's
 * annotations as the watcher last saw them.
 */
public interface PodAdmission {
    /** What to do with pod {@code namespace/name}; a pod without Kubernetes names gets the node's defaults. */
    Admission decide(String namespace, String name);

    /** Whether pods may be admitted yet (the watcher has listed this node's pods once). */
    boolean ready();

    /**
     * @param skip       why the pod is left un-intercepted, or empty to intercept it
     * @param technique  the pod's own technique, overriding the node's ranking
     * @param exclusions the pod's own exclusions on top of the node's
     */
    record Admission(Optional<String> skip, Optional<TechniqueId> technique, PodExclusions exclusions) {
        public static final Admission DEFAULT = new Admission(Optional.empty(), Optional.empty(), PodExclusions.NONE);
    }

    /** The node's opt-out list alone, for runtimes without Kubernetes. */
    static PodAdmission of(OptOut optOut) {
        return new PodAdmission() {
            @Override
            public Admission decide(String namespace, String name) {
                return optOut.reason(namespace, name)
                        .map(why -> new Admission(Optional.of(why), Optional.empty(), PodExclusions.NONE))
                        .orElse(Admission.DEFAULT);
            }

            @Override
            public boolean ready() {
                return true;
            }
        };
    }
}
