package io.shunt.agent.registry;

import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.Hijacker;
import io.shunt.proxy.AttachedPod;

/**
 * A pod the agent intercepts: its namespace handle, its listeners in the engine, and the technique
 * whose rules are installed there. The agent owns all three.
 */
public record ManagedPod(PodSpec spec, NetNs netns, AttachedPod engine, Hijacker hijacker) {
    public String name() {
        return spec.name();
    }
}
