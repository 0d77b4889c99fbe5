package io.shunt.agent.registry;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** The pods this agent intercepts now, by name. In memory only; persistence is not built yet. */
public final class PodRegistry {
    private final Map<String, ManagedPod> pods = new ConcurrentHashMap<>();

    public Optional<ManagedPod> get(String name) {
        return Optional.ofNullable(pods.get(name));
    }

    /** @throws IllegalStateException when a pod of that name is registered already */
    public void add(ManagedPod pod) {
        ManagedPod previous = pods.putIfAbsent(pod.name(), pod);
        if (previous != null) {
            throw new IllegalStateException("pod " + pod.name() + " is registered already");
        }
    }

    /** Replaces a registered pod's entry, e.g. after it moved to another technique. */
    public void replace(ManagedPod pod) {
        if (pods.replace(pod.name(), pod) == null) {
            throw new IllegalStateException("pod " + pod.name() + " is not registered");
        }
    }

    public Optional<ManagedPod> remove(String name) {
        return Optional.ofNullable(pods.remove(name));
    }

    public boolean containsNetns(long inode) {
        return pods.values().stream().anyMatch(p -> p.netns().inode() == inode);
    }

    public Collection<ManagedPod> all() {
        return List.copyOf(pods.values());
    }
}
