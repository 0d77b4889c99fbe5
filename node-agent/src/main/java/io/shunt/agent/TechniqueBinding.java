package io.shunt.agent;

import io.shunt.hijack.Hijacker;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.redirect.RedirectHijacker;
import io.shunt.proxy.ConntrackOriginalDestination;
import io.shunt.proxy.OriginalDestination;

/**
 * Pairs a technique's kernel side (the hijacker that installs rules) with its proxy side (how the
 * engine recovers a diverted connection's destination). The agent is the one place that knows both.
 */
record TechniqueBinding(Hijacker hijacker, OriginalDestination destination) {
    static TechniqueBinding of(TechniqueId technique) {
        return switch (technique) {
            case REDIRECT -> new TechniqueBinding(new RedirectHijacker(), new ConntrackOriginalDestination());
        };
    }
}
