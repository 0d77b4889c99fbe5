package io.shunt.agent;

import io.shunt.hijack.Hijacker;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.Hijackers;
import io.shunt.proxy.DivertedOriginalDestination;
import io.shunt.proxy.OriginalDestination;

/**
 * Pairs a technique's kernel side (the hijacker that installs rules) with its proxy side (how the
 * engine recovers a diverted connection's destination, and whether its listeners must be
 * transparent). The agent is the one place that knows both.
 *
 * <p>Both nftables techniques share one kind of listener (transparent, with the destination read
 * from the local address or, after DNAT, from conntrack), so a pod can move between them without
 * reopening its listeners: {@link #sharesListenersWith} says when that is so.
 */
record TechniqueBinding(TechniqueId technique, Hijacker hijacker, OriginalDestination destination,
                        boolean transparentListeners) {
    boolean sharesListenersWith(TechniqueBinding other) {
        return transparentListeners == other.transparentListeners
                && destination.getClass().equals(other.destination.getClass());
    }

    static TechniqueBinding of(TechniqueId technique) {
        return switch (technique) {
            case REDIRECT -> new TechniqueBinding(technique, Hijackers.of(technique), new DivertedOriginalDestination(),
                    true);
            case TPROXY -> new TechniqueBinding(technique, Hijackers.of(technique), new DivertedOriginalDestination(),
                    true);
            // sk_lookup assigns the same transparent listeners tproxy uses; the local address is the destination
            case TC -> new TechniqueBinding(technique, Hijackers.of(technique), new DivertedOriginalDestination(),
                    true);
            // the app connects to the outbound listener itself: the local address is the listener's, and
            // SO_ORIGINAL_DST is answered by sockmap's cgroup/getsockopt program; inbound is tc's
            case SOCKMAP -> new TechniqueBinding(technique, Hijackers.of(technique), new DivertedOriginalDestination(),
                    true);
        };
    }
}
