package io.shunt.k8s;

import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Objects;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;

/**
 * Watches the Kubernetes API for the pods scheduled on one node and tells a {@link PodEvents} about
 * them. The list and watch carry the field selector {@code spec.nodeName=<node>}, so the API server
 * filters and the agent never lists the cluster's pods; the service account needs get, list and
 * watch on pods.
 *
 * <p><b>Threading.</b> Every {@link PodEvents} call runs on one platform daemon thread named
 * {@value #THREAD_NAME}, owned by this watcher, in the order the informer saw the changes. The
 * informer's own threads only queue work for it, so a slow callback delays later events but never
 * the watch connection.
 *
 * <p><b>Disconnects.</b> fabric8's informer resumes a dropped watch from the last resource version;
 * when the server has compacted that history (HTTP 410 Gone) it re-lists, and every pod missing
 * from the new list is reported through {@link PodEvents#deleted}. Failures of the list or watch
 * themselves (server unreachable, 403 from missing RBAC) are logged and retried with back-off for
 * as long as the watcher is open; {@link PodEvents#synced} simply does not come until a list works.
 */
public final class PodWatcher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PodWatcher.class);

    /** The thread every {@link PodEvents} call runs on. */
    public static final String THREAD_NAME = "shunt-pod-events";

    // A DNS-1123 subdomain, which is what Kubernetes requires of a node name.
    private static final Pattern DNS1123_SUBDOMAIN =
            Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    private static final int MAX_NODE_NAME = 253;
    private static final long CLOSE_WAIT_SECONDS = 5;

    private final String nodeName;
    private final ExecutorService delivery;
    private volatile Thread deliveryThread;
    private final SharedIndexInformer<Pod> informer;
    private final AtomicBoolean closed = new AtomicBoolean();

    private PodWatcher(KubernetesClient client, String nodeName, PodEvents events) {
        this.nodeName = nodeName;
        this.delivery = Executors.newSingleThreadExecutor(r -> {
            Thread t = Thread.ofPlatform().name(THREAD_NAME).daemon(true).unstarted(r);
            deliveryThread = t;
            return t;
        });
        PodIntentTracker tracker = new PodIntentTracker(nodeName, events);
        this.informer = client.pods().inAnyNamespace()
                .withField("spec.nodeName", nodeName)
                .runnableInformer(0); // no resync: the tracker would drop the repeats anyway
        informer.exceptionHandler(this::retryAfter);
        informer.addEventHandler(new Handler(tracker));
    }

    /**
     * Starts watching the pods of {@code nodeName} and returns at once; the initial pods arrive
     * through {@link PodEvents#upserted}, followed by {@link PodEvents#synced}.
     *
     * @param client   a client for the cluster; the caller keeps ownership and closes it after
     *                 this watcher
     * @param nodeName the node this agent runs on, usually from the downward API
     *                 ({@code fieldRef: spec.nodeName})
     * @param events   told about the node's pods, on the {@value #THREAD_NAME} thread
     * @throws IllegalArgumentException if {@code nodeName} is not a valid node name
     */
    public static PodWatcher start(KubernetesClient client, String nodeName, PodEvents events) {
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(events, "events");
        checkNodeName(nodeName);
        PodWatcher watcher = new PodWatcher(client, nodeName, events);
        log.info("watching pods of node {} (fieldSelector spec.nodeName={})", nodeName, nodeName);
        // failures are handled by retryAfter; the stage completing only tells that a list worked
        watcher.informer.start();
        return watcher;
    }

    /** The node whose pods this watcher reports. */
    public String nodeName() {
        return nodeName;
    }

    /**
     * Stops the watch. No {@link PodEvents} call starts after this returns, unless close is called
     * from a callback, in which case that callback finishes first. Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        informer.stop();
        // shutdown, not shutdownNow: a running callback is not interrupted, queued ones see closed
        delivery.shutdown();
        if (Thread.currentThread() == deliveryThread) {
            return;
        }
        try {
            if (!delivery.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
                log.warn("pod watcher of node {} closed, but a PodEvents call is still running after {} s",
                        nodeName, CLOSE_WAIT_SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        log.info("stopped watching pods of node {}", nodeName);
    }

    /**
     * Checks that {@code nodeName} can be a Kubernetes node name: a non-empty DNS-1123 subdomain.
     *
     * @throws IllegalArgumentException naming the value and what a valid one looks like
     */
    static void checkNodeName(String nodeName) {
        if (nodeName == null || nodeName.isEmpty()) {
            throw new IllegalArgumentException("node name is empty; pass the name of the node the agent runs on, "
                    + "e.g. from the downward API (env NODE_NAME with fieldRef spec.nodeName)");
        }
        if (nodeName.length() > MAX_NODE_NAME || !DNS1123_SUBDOMAIN.matcher(nodeName).matches()) {
            throw new IllegalArgumentException("node name '" + nodeName + "' is not a valid Kubernetes node name: "
                    + "expected a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending "
                    + "with a letter or digit, at most " + MAX_NODE_NAME + " characters)");
        }
    }

    static PodIntent intentOf(Pod pod) {
        ObjectMeta meta = pod.getMetadata();
        String ref = meta.getNamespace() + "/" + meta.getName();
        ShuntAnnotations.Parsed parsed = ShuntAnnotations.parse(ref, meta.getAnnotations());
        return new PodIntent(meta.getNamespace(), meta.getName(), meta.getUid(), pod.getSpec().getNodeName(),
                parsed.annotations(), parsed.problems());
    }

    /**
     * Keeps the informer trying for as long as the watcher is open: an agent that gave up on the
     * API server would never become ready, while the error keeps showing in its log.
     */
    private boolean retryAfter(boolean started, Throwable failure) {
        if (closed.get()) {
            return false;
        }
        Throwable cause = failure;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        String hint = cause instanceof KubernetesClientException k && k.getCode() == 403
                ? "; the agent's service account needs get, list and watch on pods (see k8s/README.md)"
                : "";
        log.warn("list/watch of pods with fieldSelector spec.nodeName={} failed{}: {}{}; retrying with back-off",
                nodeName, started ? "" : " before the first list", cause.getMessage(), hint);
        return true;
    }

    /** Runs on the informer's threads; only queues work for the delivery thread. */
    private final class Handler implements ResourceEventHandler<Pod> {
        private final PodIntentTracker tracker;

        Handler(PodIntentTracker tracker) {
            this.tracker = tracker;
        }

        @Override
        public void onAdd(Pod pod) {
            deliver(() -> tracker.seen(intentOf(pod)));
        }

        @Override
        public void onUpdate(Pod oldPod, Pod newPod) {
            deliver(() -> tracker.seen(intentOf(newPod)));
        }

        @Override
        public void onDelete(Pod pod, boolean deletedFinalStateUnknown) {
            ObjectMeta meta = pod.getMetadata();
            deliver(() -> tracker.gone(meta.getNamespace(), meta.getName(), meta.getUid(), deletedFinalStateUnknown));
        }

        @Override
        public void onList(String resourceVersion, boolean remainedEmpty) {
            deliver(tracker::listed);
        }

        private void deliver(Runnable event) {
            if (closed.get()) {
                return;
            }
            try {
                delivery.execute(() -> {
                    if (closed.get()) {
                        return;
                    }
                    try {
                        event.run();
                    } catch (RuntimeException e) {
                        // a pod the model cannot represent must not stop the events of the others
                        log.error("pod watcher of node {} could not handle an informer event; skipped", nodeName, e);
                    }
                });
            } catch (RejectedExecutionException e) {
                // close() shut the executor down between the check above and here: nothing to deliver
            }
        }
    }
}
