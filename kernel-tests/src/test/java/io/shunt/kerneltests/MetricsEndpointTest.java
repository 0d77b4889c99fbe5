package io.shunt.kerneltests;

import io.shunt.agent.AgentConfig;
import io.shunt.agent.NodeAgent;
import io.shunt.agent.metrics.MetricsServer;
import io.shunt.agent.registry.PodSpec;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.proxy.EngineConfig;
import io.shunt.proxy.LatencyHistogram;
import io.shunt.proxy.PodCounters;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import static io.shunt.kerneltests.KernelTestSupport.awaitIdle;
import static io.shunt.kerneltests.KernelTestSupport.closeQuietly;
import static io.shunt.kerneltests.KernelTestSupport.counters;
import static io.shunt.kerneltests.KernelTestSupport.randomBytes;
import static io.shunt.kerneltests.KernelTestSupport.rules;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The metrics endpoint of a real agent: pod-a is intercepted with {@code redirect}, traffic runs
 * through the proxy to an echo server in the upstream namespace, and what {@code /metrics} says
 * afterwards must match it. The endpoint listens on the root namespace's loopback, the only
 * place the test connects to outside its namespaces.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class MetricsEndpointTest {
    private static final int ECHO_PORT = 8080;
    private static final int CLOSED_PORT = 7777;
    private static final String POD = "pod-a";
    private static final String LABELS = "pod=\"" + POD + "\",technique=\"redirect\"";

    private Topology topology;
    private PodNs podA;
    private NetNs nsA;
    private NetNs up;
    private InetSocketAddress echo;
    private EchoServer echoServer;
    private NodeAgent agent;
    private MetricsServer metrics;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    void startAgentAndMetrics() throws IOException {
        topology = Topology.create("ktmetrics", 1);
        podA = topology.pod(0);
        nsA = podA.open();
        up = topology.upstream().open();
        echo = new InetSocketAddress(topology.serviceAddress(0), ECHO_PORT);
        echoServer = EchoServer.start(up, echo);
        agent = NodeAgent.start(new AgentConfig(TechniqueId.REDIRECT, CapturePolicy.defaults(), EngineConfig.defaults(), true));
        agent.addPod(new PodSpec(POD, podA.netnsPath()));
        metrics = MetricsServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), agent);
    }

    @AfterAll
    void tearDown() throws IOException {
        try {
            closeQuietly(metrics);
            closeQuietly(http);
            if (agent != null) {
                agent.close();
                assertEquals("", rules(podA), "rules left in " + podA.name());
            }
        } finally {
            for (AutoCloseable c : new AutoCloseable[]{echoServer, up, nsA}) {
                closeQuietly(c);
            }
            if (topology != null) {
                topology.close();
            }
        }
    }

    @Test
    void relayedConnectionsShowInThePodsCountersAndItsConnectHistogram() throws Exception {
        Scrape before = scrape();
        byte[] payload = randomBytes(64 * 1024);
        int connections = 3;
        for (int i = 0; i < connections; i++) {
            assertArrayEquals(payload, PodClient.exchange(nsA, echo, payload).echoedBytes());
        }
        PodCounters.Snapshot engine = awaitIdle(agent, POD);

        Scrape after = scrape();
        assertEquals(before.value("shunt_connections_accepted_total{" + LABELS + "}") + connections,
                after.value("shunt_connections_accepted_total{" + LABELS + "}"), after.text());
        assertEquals(0, after.value("shunt_connections_active{" + LABELS + "}"), after.text());
        assertEquals(before.value("shunt_bytes_total{" + LABELS + ",side=\"client\"}") + connections * payload.length,
                after.value("shunt_bytes_total{" + LABELS + ",side=\"client\"}"), after.text());
        // The echo server greets each client before echoing, so more comes back than was sent.
        assertTrue(after.value("shunt_bytes_total{" + LABELS + ",side=\"upstream\"}")
                >= before.value("shunt_bytes_total{" + LABELS + ",side=\"upstream\"}") + connections * payload.length, after.text());

        double count = after.value("shunt_upstream_connect_seconds_count{" + LABELS + "}");
        assertEquals(before.value("shunt_upstream_connect_seconds_count{" + LABELS + "}") + connections, count, after.text());
        assertEquals(count, after.value(bucket("+Inf")), "the +Inf bucket holds every connect:\n" + after.text());
        assertTrue(after.value("shunt_upstream_connect_seconds_sum{" + LABELS + "}")
                > before.value("shunt_upstream_connect_seconds_sum{" + LABELS + "}"), after.text());
        double previous = 0;
        for (Duration bound : LatencyHistogram.UPPER_BOUNDS) {
            double cumulative = after.value(bucket(seconds(bound)));
            assertTrue(cumulative >= previous, "bucket le=" + seconds(bound) + " is below the one before:\n" + after.text());
            previous = cumulative;
        }
        // What the endpoint says is what the engine counted.
        assertEquals(engine.accepted(), after.value("shunt_connections_accepted_total{" + LABELS + "}"));
        assertEquals(engine.upstreamConnect().count(), count);
    }

    @Test
    void aRefusedUpstreamIsCountedAsAFailureAndNotTimed() throws Exception {
        Scrape before = scrape();
        InetSocketAddress closed = new InetSocketAddress(topology.serviceAddress(0), CLOSED_PORT);
        // The proxy accepts, the upstream refuses, the client gets a reset.
        assertThrows(IOException.class, () -> {
            try (SocketChannel ch = PodClient.connect(nsA, closed, Duration.ofSeconds(10))) {
                ch.socket().setSoTimeout(10_000);
                if (ch.socket().getInputStream().read() == -1) {
                    throw new AssertionError("expected a reset, got an orderly close");
                }
            }
        });
        awaitIdle(agent, POD);

        Scrape after = scrape();
        assertEquals(before.value("shunt_upstream_connect_failures_total{" + LABELS + "}") + 1,
                after.value("shunt_upstream_connect_failures_total{" + LABELS + "}"), after.text());
        assertEquals(before.value("shunt_connections_accepted_total{" + LABELS + "}") + 1,
                after.value("shunt_connections_accepted_total{" + LABELS + "}"), after.text());
        assertEquals(before.value("shunt_upstream_connect_seconds_count{" + LABELS + "}"),
                after.value("shunt_upstream_connect_seconds_count{" + LABELS + "}"), after.text());
        assertEquals(counters(agent, POD).upstreamFailures(),
                after.value("shunt_upstream_connect_failures_total{" + LABELS + "}"));
    }

    @Test
    void theAgentsOwnStateIsServedAndItIsReady() throws Exception {
        Scrape s = scrape();
        assertEquals(1, s.value("shunt_pods{technique=\"redirect\"}"), s.text());
        assertEquals(0, s.value("shunt_pods{technique=\"tproxy\"}"), s.text());
        assertEquals(1, s.value("shunt_agent_ready"), s.text());
        assertTrue(s.text().lines().anyMatch(l -> l.matches("shunt_build_info\\{version=\"[^\"$]+\"} 1")), s.text());
        assertEquals(0, s.value("shunt_original_destination_misses_total{" + LABELS + "}"), s.text());

        HttpResponse<String> ready = get("/readyz");
        assertEquals(200, ready.statusCode(), ready.body());
        assertEquals(200, get("/healthz").statusCode());
    }

    /** One scrape: its text, and each sample's value by its name and labels as written. */
    private record Scrape(String text, Map<String, Double> samples) {
        double value(String sample) {
            Double v = samples.get(sample);
            if (v == null) {
                throw new AssertionError("no sample " + sample + " in:\n" + text);
            }
            return v;
        }
    }

    private Scrape scrape() throws IOException, InterruptedException {
        HttpResponse<String> r = get("/metrics");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", r.headers().firstValue("Content-Type").orElseThrow());
        Map<String, Double> samples = new LinkedHashMap<>();
        for (String line : r.body().lines().toList()) {
            if (!line.isBlank() && !line.startsWith("#")) {
                int space = line.lastIndexOf(' ');
                samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
            }
        }
        return new Scrape(r.body(), samples);
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        URI uri = URI.create("http://127.0.0.1:" + metrics.address().getPort() + path);
        return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String bucket(String le) {
        return "shunt_upstream_connect_seconds_bucket{" + LABELS + ",le=\"" + le + "\"}";
    }

    private static String seconds(Duration d) {
        return BigDecimal.valueOf(d.toNanos(), 9).stripTrailingZeros().toPlainString();
    }
}
