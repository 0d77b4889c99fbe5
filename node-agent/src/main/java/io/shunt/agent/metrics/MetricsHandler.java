package io.shunt.agent.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Answers {@code GET /metrics}, {@code /healthz} and {@code /readyz}; anything else is 404 or 405. */
final class MetricsHandler implements HttpHandler {
    private static final Logger LOG = LoggerFactory.getLogger(MetricsHandler.class);
    private static final String PLAIN = "text/plain; charset=utf-8";

    private final AgentView agent;

    MetricsHandler(AgentView agent) {
        this.agent = agent;
    }

    /** What to send back: status, Content-Type and body. */
    record Response(int status, String contentType, String body) {
        static Response plain(int status, String line) {
            return new Response(status, PLAIN, line + "\n");
        }
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            Response r = respond(exchange.getRequestMethod(), exchange.getRequestURI().getPath());
            if (r.status() == 405) {
                exchange.getResponseHeaders().set("Allow", "GET");
            }
            byte[] body = r.body().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", r.contentType());
            exchange.sendResponseHeaders(r.status(), body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    Response respond(String method, String path) {
        if (!path.equals("/metrics") && !path.equals("/healthz") && !path.equals("/readyz")) {
            return Response.plain(404, "not found: " + path + " (this server answers /metrics, /healthz and /readyz)");
        }
        if (!method.equals("GET")) {
            return Response.plain(405, "method " + method + " is not allowed on " + path + "; use GET");
        }
        try {
            return switch (path) {
                case "/metrics" -> new Response(200, PrometheusText.CONTENT_TYPE, PrometheusText.render(agent.scrape()));
                case "/readyz" -> agent.ready() ? Response.plain(200, "ok")
                        : Response.plain(503, "not ready: the agent is still taking back the pods persisted by its last run");
                default -> Response.plain(200, "ok");
            };
        } catch (RuntimeException e) {
            LOG.warn("metrics: answering GET {} failed", path, e);
            return Response.plain(500, "GET " + path + " failed: " + e + " (see the agent's log)");
        }
    }
}
