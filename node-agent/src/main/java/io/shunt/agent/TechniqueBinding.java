package io.shunt.agent;

import io.shunt.hijack.Hijacker;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.Hijackers;
import io.shunt.proxy.ConntrackOriginalDestination;
import io.shunt.proxy.LocalAddressOriginalDestination;
import io.shunt.proxy.OriginalDestination;

/**
 * Pairs a technique's kernel side (the hijacker that installs rules) with its proxy side (how the
 * engine recovers a diverted connection's destination, and whether its listeners must be
 * transparent). The agent is the one place that knows both.
 */
record TechniqueBinding(TechniqueId technique, Hijacker hijacker, OriginalDestination destination,
                        boolean transparentListeners) {
    static TechniqueBinding of(TechniqueId technique) {
        return switch (technique) {
            case REDIRECT -> new TechniqueBinding(technique, Hijackers.of(technique), new ConntrackOriginalDestination(),
                    false);
            case TPROXY -> new TechniqueBinding(technique, Hijackers.of(technique), new LocalAddressOriginalDestination(),
                    true);
        };
    }
}
