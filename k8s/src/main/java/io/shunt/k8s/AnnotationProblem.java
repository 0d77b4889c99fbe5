package io.shunt.k8s;

import java.util.Objects;

/**
 * One Shunt annotation on one pod whose value could not be used, so it was ignored while the pod's
 * other annotations still applied.
 *
 * @param pod    {@code namespace/name}
 * @param key    the annotation key, e.g. {@code shunt.io/exclude-outbound-ports}
 * @param value  the value as written on the pod
 * @param reason what is wrong with the value
 */
public record AnnotationProblem(String pod, String key, String value, String reason) {

    public AnnotationProblem {
        Objects.requireNonNull(pod, "pod");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        Objects.requireNonNull(reason, "reason");
    }

    /**
     * The line an operator reads in the agent's log, e.g. {@code pod default/web-1: annotation
     * shunt.io/technique='tc' ignored: unknown technique 'tc'; known techniques: redirect, tproxy}.
     */
    public String message() {
        return "pod " + pod + ": annotation " + key + "='" + value + "' ignored: " + reason;
    }

    @Override
    public String toString() {
        return message();
    }
}
