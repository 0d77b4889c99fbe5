package io.shunt.k8s;

import java.util.List;
import java.util.Objects;

/**
 * A pod on this node and what it asks of Shunt: the part of the pod the agent acts on. Two intents
 * are equal exactly when the agent would do the same for both, which is how the watcher tells an
 * annotation change from a status update it can skip.
 *
 * @param namespace   the pod's namespace
 * @param name        the pod's name
 * @param uid         the pod's UID: a pod deleted and re-created under the same name is a
 *                    different pod with a different sandbox, and only the UID tells them apart
 * @param nodeName    the node the pod is scheduled on (always the watcher's node)
 * @param annotations the parsed Shunt annotations, defaults where a value was ignored
 * @param problems    the annotations that were ignored and why; empty for a well-annotated pod
 */
public record PodIntent(
        String namespace,
        String name,
        String uid,
        String nodeName,
        ShuntAnnotations annotations,
        List<AnnotationProblem> problems) {

    public PodIntent {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(uid, "uid");
        Objects.requireNonNull(nodeName, "nodeName");
        Objects.requireNonNull(annotations, "annotations");
        problems = List.copyOf(problems);
    }

    /** {@code namespace/name}, as pods are named in logs and errors. */
    public String ref() {
        return namespace + "/" + name;
    }
}
