package io.shunt.proxy;

import io.netty.util.Version;

import java.util.Optional;
import java.util.Set;

/**
 * Netty releases whose epoll transport loses data in Shunt's relay. In them, a channel whose
 * interest set becomes empty (reading paused for backpressure, or input shut down) is removed from
 * epoll while Netty still records it as added, so the next interest change fails EPOLL_CTL_MOD
 * with ENOENT and Netty closes the channel with bytes still queued. Verified in the bytecode of
 * 4.2.18.Final and by the transport conformance tests (truncated and reset connections); the
 * upstream fixes came after it (netty/netty#16689 introduced the removal, #16728 followed).
 */
final class EpollDefect {
    private static final String ARTIFACT = "netty-transport-classes-epoll";
    private static final Set<String> AFFECTED = Set.of("4.2.18.Final");

    private EpollDefect() {
    }

    /** Why epoll must not be used with the Netty on the class path, if it must not. */
    static Optional<String> reason() {
        Version version = Version.identify().get(ARTIFACT);
        if (version == null || !AFFECTED.contains(version.artifactVersion())) {
            return Optional.empty();
        }
        return Optional.of("Netty " + version.artifactVersion() + "'s epoll transport drops a connection's queued bytes "
                + "after reading pauses for backpressure (an fd removed from epoll is later modified: EPOLL_CTL_MOD "
                + "fails with ENOENT), so Shunt does not use it; use io_uring, or a Netty release with the fix");
    }
}
