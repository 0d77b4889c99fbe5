package io.shunt.proxy.relay;

import io.netty.channel.ChannelFactory;
import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.shunt.proxy.ConnectionObserver;
import io.shunt.proxy.Direction;
import io.shunt.proxy.OriginalDestination;
import io.shunt.proxy.PodCounters;

import java.time.Duration;

/** What every connection accepted by one pod listener shares. */
public record RelayContext(String pod, String technique, Direction direction, OriginalDestination destination,
                           ChannelFactory<Channel> upstreamSockets, Duration connectTimeout, PodCounters counters,
                           ChannelGroup connections, ConnectionObserver observer) {
}
