package io.shunt.k8s;

import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * fabric8's CRUD mock server with the two things a pod watcher test needs that it lacks.
 *
 * <p>It filters on {@code spec.nodeName}. The CRUD store indexes a resource only by name, namespace
 * and labels, so a field selector on {@code spec.nodeName} matches nothing. Test pods therefore
 * carry their node also as the label {@value #NODE_LABEL}, and pod lists and watches have the
 * field requirement rewritten into that label requirement: the server, not the client, still does
 * the filtering. Every pod list and watch path is recorded as the client sent it.
 *
 * <p>It can lose a deletion, as a real API server does from the client's point of view when the
 * watch connection drops and the server compacts its history meanwhile: {@link #loseDeletion}
 * removes a pod without a DELETED event, answers any watch resuming from before that point with
 * the ERROR event of 410 Gone, and drops the open watch connections.
 */
final class NodeSelectingCrudDispatcher extends KubernetesCrudDispatcher {
    static final String NODE_LABEL = "test.shunt.io/node";
    private static final String NODE_FIELD = "spec.nodeName";

    private final List<String> podReads = new CopyOnWriteArrayList<>();
    private final List<WebSocket> openWatches = new CopyOnWriteArrayList<>();
    /** While set, pod lists and watches are refused with 403, as without the RBAC rule. */
    private volatile boolean forbidPodReads;
    /** A watch from a resourceVersion below this one is answered with 410 Gone. */
    private volatile long historyStartsAt;

    /**
     * Waits until a pod watch is open. The informer reports its list before it opens the watch, and
     * unlike a real API server this mock does not replay events from the watch's resourceVersion:
     * a pod deleted in between would never be reported, so a test waits here before deleting.
     */
    void awaitOpenWatch(Duration deadline) {
        awaitUntil(() -> !openWatches.isEmpty(), deadline, "an open pod watch");
    }

    private void awaitUntil(BooleanSupplier condition, Duration deadline, String what) {
        long end = System.nanoTime() + deadline.toNanos();
        synchronized (this) {
            while (!condition.getAsBoolean()) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no " + what + " within " + deadline.toSeconds() + " s; pod reads: "
                            + podReads);
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError("interrupted waiting for " + what, e);
                }
            }
        }
    }

    private synchronized void changed() {
        notifyAll();
    }

    void forbidPodReads(boolean forbid) {
        forbidPodReads = forbid;
    }

    /** Waits until at least {@code count} pod list or watch requests arrived. */
    void awaitPodReads(int count, Duration deadline) {
        awaitUntil(() -> podReads.size() >= count, deadline, count + " pod reads");
    }

    /** The path of every pod list and watch request, as received. */
    List<String> podReads() {
        return List.copyOf(podReads);
    }

    /**
     * Deletes the pod without telling any watch, then drops the open watches; a client resuming
     * its watch from before the deletion gets 410 Gone and has to re-list to learn of it.
     */
    void loseDeletion(String namespace, String name) {
        AttributeSet key = getKey("/api/v1/namespaces/" + namespace + "/pods/" + name);
        Map.Entry<AttributeSet, String> entry = findResource(key);
        if (entry == null) {
            throw new IllegalStateException("test setup: pod " + namespace + "/" + name + " is not in the mock store");
        }
        map.remove(entry.getKey());
        historyStartsAt = requestResourceVersion();
        for (WebSocket ws : openWatches) {
            ws.close(1000, "test: connection lost");
        }
        openWatches.clear();
    }

    @Override
    public MockResponse handleGet(String path) {
        int q = path.indexOf('?');
        String resourcePath = q < 0 ? path : path.substring(0, q);
        if (!resourcePath.endsWith("/pods")) {
            return super.handleGet(path);
        }
        podReads.add(path);
        changed();
        if (forbidPodReads) {
            return new MockResponse().setResponseCode(403).setBody("{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                    + "\"metadata\":{},\"status\":\"Failure\",\"reason\":\"Forbidden\",\"code\":403,"
                    + "\"message\":\"pods is forbidden: User \\\"system:serviceaccount:shunt:agent\\\" cannot list "
                    + "resource \\\"pods\\\" in API group \\\"\\\" at the cluster scope\"}");
        }
        Map<String, String> query = query(q < 0 ? "" : path.substring(q + 1));
        boolean watch = "true".equals(query.get("watch"));
        String from = query.get("resourceVersion");
        if (watch && from != null && !from.isEmpty() && Long.parseLong(from) < historyStartsAt) {
            return gone(from);
        }
        String rewritten = nodeFieldAsLabel(query);
        MockResponse response = super.handleGet(rewritten.isEmpty() ? resourcePath : resourcePath + "?" + rewritten);
        if (watch && response.getWebSocketListener() != null) {
            response.withWebSocketUpgrade(new Tracked(response.getWebSocketListener()));
        }
        return response;
    }

    private MockResponse gone(String from) {
        String status = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                + "\"status\":\"Failure\",\"reason\":\"Expired\",\"code\":410,"
                + "\"message\":\"too old resource version: " + from + " (" + historyStartsAt + ")\"}}";
        return new MockResponse().withWebSocketUpgrade(new WebSocketListener() {
            @Override
            public void onOpen(WebSocket webSocket, Response response) {
                webSocket.send(status);
            }
        });
    }

    private static String nodeFieldAsLabel(Map<String, String> query) {
        List<String> fields = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        String labelSelector = query.get("labelSelector");
        if (labelSelector != null && !labelSelector.isEmpty()) {
            labels.add(labelSelector);
        }
        String fieldSelector = query.getOrDefault("fieldSelector", "");
        for (String requirement : fieldSelector.split(",")) {
            if (requirement.startsWith(NODE_FIELD + "=")) {
                labels.add(NODE_LABEL + "=" + requirement.substring(requirement.lastIndexOf('=') + 1));
            } else if (!requirement.isEmpty()) {
                fields.add(requirement);
            }
        }
        StringBuilder s = new StringBuilder();
        query.forEach((k, v) -> {
            if (!k.equals("fieldSelector") && !k.equals("labelSelector")) {
                append(s, k, v);
            }
        });
        if (!fields.isEmpty()) {
            append(s, "fieldSelector", String.join(",", fields));
        }
        if (!labels.isEmpty()) {
            append(s, "labelSelector", String.join(",", labels));
        }
        return s.toString();
    }

    private static void append(StringBuilder s, String key, String value) {
        if (!s.isEmpty()) {
            s.append('&');
        }
        s.append(key).append('=').append(URLEncoder.encode(value, StandardCharsets.UTF_8));
    }

    /** The decoded query parameters of a request path. */
    static Map<String, String> queryOf(String path) {
        int q = path.indexOf('?');
        return query(q < 0 ? "" : path.substring(q + 1));
    }

    private static Map<String, String> query(String rawQuery) {
        Map<String, String> params = new LinkedHashMap<>();
        for (String pair : rawQuery.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            params.put(key, value);
        }
        return params;
    }

    /** Remembers the socket of a pod watch so {@link #loseDeletion} can drop it. */
    private final class Tracked extends WebSocketListener {
        private final WebSocketListener delegate;

        Tracked(WebSocketListener delegate) {
            this.delegate = delegate;
        }

        @Override
        public void onBeforeAccept(WebSocket webSocket, Response response) {
            delegate.onBeforeAccept(webSocket, response);
        }

        @Override
        public void onOpen(WebSocket webSocket, Response response) {
            // initial ADDED events first, so a test that saw the watch open sees them as past
            delegate.onOpen(webSocket, response);
            openWatches.add(webSocket);
            changed();
        }

        @Override
        public void onMessage(WebSocket webSocket, String text) {
            delegate.onMessage(webSocket, text);
        }

        @Override
        public void onMessage(WebSocket webSocket, byte[] bytes) {
            delegate.onMessage(webSocket, bytes);
        }

        @Override
        public void onClosing(WebSocket webSocket, int code, String reason) {
            delegate.onClosing(webSocket, code, reason);
        }

        @Override
        public void onClosed(WebSocket webSocket, int code, String reason) {
            openWatches.remove(webSocket);
            delegate.onClosed(webSocket, code, reason);
        }

        @Override
        public void onFailure(WebSocket webSocket, Throwable error, Response response) {
            openWatches.remove(webSocket);
            delegate.onFailure(webSocket, error, response);
        }
    }
}
