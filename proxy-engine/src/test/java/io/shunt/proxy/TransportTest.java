package io.shunt.proxy;

import io.netty.channel.epoll.Epoll;
import io.netty.util.Version;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TransportTest {

    @Test
    void epollIsRefusedWithItsReasonOnANettyWhoseEpollLosesData() {
        String version = Version.identify().get("netty-transport-classes-epoll").artifactVersion();
        if (version.equals("4.2.18.Final") && Epoll.isAvailable()) {
            assertFalse(Transport.EPOLL.isAvailable());
            assertTrue(Transport.EPOLL.unavailabilityCause().contains("EPOLL_CTL_MOD fails with ENOENT"),
                    Transport.EPOLL.unavailabilityCause());
            assertNotEquals(Transport.EPOLL, Transport.best());
        } else {
            assertEquals(Epoll.isAvailable(), Transport.EPOLL.isAvailable(), "no known defect in Netty " + version);
        }
    }

    @Test
    void anUnavailableTransportCannotStartTheEngine() {
        for (Transport t : Transport.values()) {
            if (!t.isAvailable()) {
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> ProxyEngine.start(EngineConfig.defaults(t), ConnectionObserver.NONE));
                assertTrue(e.getMessage().contains(t.id() + " is not available here"), e.getMessage());
            }
        }
    }

    @Test
    void transportsAreNamedByTheirIds() {
        assertEquals(Transport.IO_URING, Transport.byId("io_uring"));
        assertEquals(Transport.EPOLL, Transport.byId("EPOLL"));
        assertEquals(Transport.NIO, Transport.byId("nio"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Transport.byId("kqueue"));
        assertEquals("unknown transport 'kqueue'; expected io_uring, epoll or nio", e.getMessage());
    }
}
