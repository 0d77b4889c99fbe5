package io.shunt.proxy.relay;

import io.shunt.proxy.ReadCredit;

import io.netty.channel.ChannelFactory;
import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.shunt.proxy.ConnectionGate;
import io.shunt.proxy.ConnectionObserver;
import io.shunt.proxy.Direction;
import io.shunt.proxy.OriginalDestination;
import io.shunt.proxy.PodCounters;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What every connection accepted by one pod listener shares.
 *
 * @param techniqueLabel the technique that diverts the pod's connections now, for logs; it changes
 *                       when the agent moves the pod to another technique
 */
public record RelayContext(String pod, AtomicReference<String> techniqueLabel, Direction direction,
                           OriginalDestination destination, ChannelFactory<Channel> upstreamSockets,
                           Duration connectTimeout, PodCounters counters, ConnectionGate gate,
                           ChannelGroup connections, ConnectionObserver observer, ReadCredit readCredit) {
    public String technique() {
        return techniqueLabel.get();
    }
}
