package io.shunt.kerneltests;

import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.Hijacker;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.redirect.RedirectHijacker;
import io.shunt.hijack.tproxy.TproxyHijacker;
import io.shunt.testbed.AgentProcess;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a pod sees when the agent dies without cleaning up (SIGKILL, OOM kill): its rules stay,
 * its listeners are gone. Every technique must then fail closed and visibly, with connections
 * refused in both directions, never hung and never silently bypassing the proxy.
 */
class CrashBehaviourTest {

    @ParameterizedTest
    @EnumSource(TechniqueId.class)
    void afterSigkillThePodsConnectionsAreRefusedNotHung(TechniqueId technique) throws IOException {
        try (Topology topology = Topology.create("ktcrash", 1)) {
            PodNs pod = topology.pod(0);
            InetSocketAddress service = new InetSocketAddress(topology.serviceAddress(0), 8080);
            InetSocketAddress app = new InetSocketAddress(pod.address(), 8080);
            try (NetNs up = topology.upstream().open(); NetNs podNs = pod.open();
                 EchoServer upstream = EchoServer.start(up, service);
                 EchoServer appServer = EchoServer.start(podNs, app)) {
                AgentProcess agent = AgentProcess.start(List.of("--pod", "pod-a=" + pod.netnsPath(),
                        "--pod-technique", "pod-a=" + technique.id()), null, Duration.ofSeconds(60));
                try {
                    assertArrayEquals("up".getBytes(), PodClient.exchange(podNs, service, "up".getBytes()).echoedBytes());
                } finally {
                    agent.kill();
                }
                // io_uring keeps the listening sockets alive until the kernel tears the dead process's
                // ring down, shortly after the process itself is gone: wait for that, bounded.
                awaitNoListeners(pod);
                try {
                    // A short timeout: a refusal is immediate, a black hole would only time out.
                    assertRefused(() -> PodClient.connect(podNs, service, Duration.ofSeconds(3)), "outbound");
                    assertRefused(() -> PodClient.connect(up, app, Duration.ofSeconds(3)), "inbound");
                } finally {
                    hijacker(technique).remove(podNs);
                }
                assertArrayEquals("direct".getBytes(), PodClient.exchange(podNs, service, "direct".getBytes()).echoedBytes());
            }
        }
    }

    private static void awaitNoListeners(PodNs pod) throws IOException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        String listening;
        do {
            listening = Topology.exec(pod.netnsName(), "ss", "-Hltn", "( sport = :15001 or sport = :15006 )").strip();
            if (listening.isEmpty()) {
                return;
            }
            KernelTestSupport.sleep(20);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("the dead agent's listeners are still open after 10 s:\n" + listening);
    }

    private static void assertRefused(Connect connect, String direction) {
        IOException e = assertThrows(IOException.class, () -> connect.run().close(), direction + " connected");
        assertTrue(e instanceof ConnectException && e.getMessage().contains("refused"),
                direction + ": expected 'connection refused', got " + e);
    }

    private static Hijacker hijacker(TechniqueId technique) {
        return switch (technique) {
            case REDIRECT -> new RedirectHijacker();
            case TPROXY -> new TproxyHijacker();
        };
    }

    @FunctionalInterface
    private interface Connect {
        java.nio.channels.SocketChannel run() throws IOException;
    }
}
