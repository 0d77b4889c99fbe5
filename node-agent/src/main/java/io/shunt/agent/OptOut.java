package io.shunt.agent;

import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Pods the agent deliberately leaves alone when the runtime adds them: whole namespaces (the
 * control plane's, typically) and single pods. A skipped pod starts normally, un-intercepted, and
 * the agent says so in its log and in its CNI reply; it is never skipped by accident.
 *
 * @param namespaces Kubernetes namespaces whose pods are skipped
 * @param pods       pods skipped by {@code namespace/name}
 */
public record OptOut(Set<String> namespaces, Set<String> pods) {
    private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9.]*[a-z0-9])?");
    public static final OptOut NONE = new OptOut(Set.of(), Set.of());

    public OptOut {
        namespaces = Set.copyOf(new TreeSet<>(namespaces));
        pods = Set.copyOf(new TreeSet<>(pods));
        for (String ns : namespaces) {
            if (!NAME.matcher(ns).matches()) {
                throw new IllegalArgumentException("namespace to skip '" + ns + "' is not a Kubernetes namespace name");
            }
        }
        for (String pod : pods) {
            int slash = pod.indexOf('/');
            if (slash <= 0 || !NAME.matcher(pod.substring(0, slash)).matches()
                    || !NAME.matcher(pod.substring(slash + 1)).matches()) {
                throw new IllegalArgumentException("pod to skip '" + pod + "' is not NAMESPACE/NAME, e.g. kube-system/coredns-1");
            }
        }
    }

    /** Why this pod is skipped, or empty when it is to be intercepted. */
    public Optional<String> reason(String namespace, String name) {
        if (namespaces.contains(namespace)) {
            return Optional.of("namespace " + namespace + " is opted out");
        }
        if (pods.contains(namespace + "/" + name)) {
            return Optional.of("pod " + namespace + "/" + name + " is opted out");
        }
        return Optional.empty();
    }
}
