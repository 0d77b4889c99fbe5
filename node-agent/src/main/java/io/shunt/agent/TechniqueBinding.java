package io.shunt.agent;

import io.shunt.hijack.Hijacker;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.Hijackers;
import io.shunt.proxy.DivertedOriginalDestination;
import io.shunt.proxy.OriginalDestination;
import io.shunt.proxy.ReadCredit;
import io.shunt.hijack.sockmap.ConsumedBytes;
import io.shunt.hijack.sockmap.SockmapHijacker;

import java.io.IOException;

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
                        boolean transparentListeners, ReadCredit readCredit) {
    TechniqueBinding(TechniqueId technique, Hijacker hijacker, OriginalDestination destination,
                     boolean transparentListeners) {
        this(technique, hijacker, destination, transparentListeners, ReadCredit.NONE);
    }

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
            case SOCKMAP -> {
                SockmapHijacker sockmap = (SockmapHijacker) Hijackers.of(technique);
                ConsumedBytes consumed = sockmap.consumedBytes();
                // the app -> proxy window opens as the engine reads (shunt_sockmap.h)
                ReadCredit credit = (fd, local, remote) -> {
                    ConsumedBytes.Writer writer = consumed.open(fd, local, remote);
                    return new ReadCredit.Grant() {
                        @Override
                        public void read(long total) throws IOException {
                            writer.read(total);
                        }

                        @Override
                        public void close() {
                            writer.close();
                        }
                    };
                };
                yield new TechniqueBinding(technique, sockmap, new DivertedOriginalDestination(), true, credit);
            }
        };
    }
}
