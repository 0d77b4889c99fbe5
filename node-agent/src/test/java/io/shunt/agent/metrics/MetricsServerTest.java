package io.shunt.agent.metrics;

import io.shunt.agent.metrics.MetricsScrape.PodSample;
import io.shunt.proxy.PodCounters;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP side against a stand-in agent, whose readiness the test switches; the numbers of a real
 * agent are checked by the kernel test {@code MetricsEndpointTest}.
 */
@Timeout(60)
class MetricsServerTest {
    private static final InetSocketAddress ANY_LOOPBACK_PORT = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    private final AtomicBoolean ready = new AtomicBoolean(true);
    private final AgentView agent = new AgentView() {
        @Override
        public boolean ready() {
            return ready.get();
        }

        @Override
        public MetricsScrape scrape() {
            PodCounters counters = new PodCounters();
            counters.connectionAccepted();
            counters.upstreamConnected(1_000_000);
            List<PodSample> pods = List.of(new PodSample("pod-a", "redirect", counters.snapshot()));
            return new MetricsScrape("test", ready.get(), MetricsScrape.countByTechnique(pods), pods);
        }
    };
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private MetricsServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        client.close();
    }

    @Test
    void metricsAreServedAsPrometheusText() throws Exception {
        server = MetricsServer.start(ANY_LOOPBACK_PORT, agent);
        HttpResponse<String> r = get("/metrics");
        assertEquals(200, r.statusCode());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", r.headers().firstValue("Content-Type").orElseThrow());
        assertTrue(r.body().contains("\nshunt_connections_accepted_total{pod=\"pod-a\",technique=\"redirect\"} 1\n"), r.body());
        assertTrue(r.body().contains("\nshunt_upstream_connect_seconds_count{pod=\"pod-a\",technique=\"redirect\"} 1\n"), r.body());
        assertTrue(r.body().contains("\nshunt_build_info{version=\"test\"} 1\n"), r.body());
    }

    @Test
    void readyzFollowsTheAgentsReadiness() throws Exception {
        server = MetricsServer.start(ANY_LOOPBACK_PORT, agent);
        ready.set(false);
        HttpResponse<String> notReady = get("/readyz");
        assertEquals(503, notReady.statusCode());
        assertEquals("not ready: the agent is still taking back the pods persisted by its last run\n", notReady.body());
        assertTrue(get("/metrics").body().contains("\nshunt_agent_ready 0\n"));

        ready.set(true);
        HttpResponse<String> isReady = get("/readyz");
        assertEquals(200, isReady.statusCode());
        assertEquals("ok\n", isReady.body());
    }

    @Test
    void healthzAnswersOkEvenWhileNotReady() throws Exception {
        server = MetricsServer.start(ANY_LOOPBACK_PORT, agent);
        ready.set(false);
        HttpResponse<String> r = get("/healthz");
        assertEquals(200, r.statusCode());
        assertEquals("ok\n", r.body());
    }

    @Test
    void anUnknownPathIsNotFound() throws Exception {
        server = MetricsServer.start(ANY_LOOPBACK_PORT, agent);
        for (String path : List.of("/", "/metrics/", "/favicon.ico", "/readyz/x")) {
            HttpResponse<String> r = get(path);
            assertEquals(404, r.statusCode(), path);
            assertTrue(r.body().startsWith("not found: " + path + " "), r.body());
        }
        assertEquals(200, get("/metrics?name[]=x").statusCode(), "a query string does not change the path");
    }

    @Test
    void anyMethodButGetIsNotAllowed() throws Exception {
        server = MetricsServer.start(ANY_LOOPBACK_PORT, agent);
        for (String method : List.of("POST", "PUT", "DELETE", "HEAD")) {
            HttpRequest request = HttpRequest.newBuilder(uri("/metrics"))
                    .method(method, method.equals("HEAD") ? HttpRequest.BodyPublishers.noBody()
                            : HttpRequest.BodyPublishers.ofString("x")).build();
            HttpResponse<String> r = client.send(request, HttpResponse.BodyHandlers.ofString());
            assertEquals(405, r.statusCode(), method);
            assertEquals("GET", r.headers().firstValue("Allow").orElseThrow(), method);
        }
    }

    @Test
    void aNonLoopbackAddressIsRefused() throws IOException {
        IllegalArgumentException any = assertThrows(IllegalArgumentException.class,
                () -> MetricsServer.start(new InetSocketAddress("0.0.0.0", 9464), agent));
        assertEquals("metrics address 0.0.0.0:9464 is not a loopback address: the metrics endpoint has no "
                + "authentication, so it listens only on loopback; use 127.0.0.1:9464 or [::1]:9464", any.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> MetricsServer.start(new InetSocketAddress("10.1.2.3", 9464), agent));
        assertThrows(IllegalArgumentException.class,
                () -> MetricsServer.start(new InetSocketAddress("::", 9464), agent));
        IllegalArgumentException unresolved = assertThrows(IllegalArgumentException.class,
                () -> MetricsServer.start(InetSocketAddress.createUnresolved("metrics.example", 9464), agent));
        assertTrue(unresolved.getMessage().contains("metrics.example:9464 is not resolved"), unresolved.getMessage());
    }

    @Test
    void aPortInUseIsReportedWithTheAddress() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            IOException e = assertThrows(IOException.class, () -> MetricsServer.start(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), taken.getLocalPort()), agent));
            assertTrue(e.getMessage().startsWith("cannot serve metrics on 127.0.0.1:" + taken.getLocalPort() + ": "),
                    e.getMessage());
        }
    }

    @Test
    void closeStopsListeningAndIsIdempotent() throws IOException {
        server = MetricsServer.start(ANY_LOOPBACK_PORT, agent);
        InetSocketAddress bound = server.address();
        assertTrue(bound.getPort() > 0, bound.toString());
        server.close();
        server.close();
        assertThrows(ConnectException.class, () -> new Socket(bound.getAddress(), bound.getPort()).close());
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.address().getPort() + path);
    }
}
