package io.shunt.agent.registry;

import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.Hijacker;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.select.Selection;
import io.shunt.proxy.AttachedPod;

import java.util.List;

/**
 * A pod the agent intercepts: its namespace handle, its listeners in the engine, and the technique
 * whose rules are installed there, with the reasons it was chosen. The agent owns all of it.
 *
 * @param foreignLegacyTables legacy (x_tables) iptables tables some other tool registered in the
 *                            pod's namespace; their rules run alongside Shunt's nftables rules
 */
public record ManagedPod(PodSpec spec, NetNs netns, AttachedPod engine, Hijacker hijacker, Selection selection,
                         List<String> foreignLegacyTables) {
    public ManagedPod {
        foreignLegacyTables = List.copyOf(foreignLegacyTables);
    }

    public String name() {
        return spec.name();
    }

    public TechniqueId technique() {
        return selection.chosen();
    }
}
