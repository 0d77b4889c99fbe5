package io.shunt.k8s;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;

import java.util.HashMap;
import java.util.Map;

/**
 * A fabric8 CRUD mock API server with a {@link NodeSelectingCrudDispatcher} and a client for it,
 * plus the few pod edits the watcher tests make. Plain HTTP and the JDK client, as in production
 * minus TLS.
 */
final class MockCluster implements AutoCloseable {
    // the informer retries a dropped watch and a 410 re-list after this long; fabric8's 1 s
    // default would only make the disconnect test slower
    private static final int RECONNECT_MS = 50;
    // the mock server logs every request at INFO through java.util.logging; held here because
    // j.u.l keeps loggers weakly and would forget the level
    private static final java.util.logging.Logger MOCK_SERVER_LOG = quiet("io.fabric8.mockwebserver");

    final NodeSelectingCrudDispatcher dispatcher = new NodeSelectingCrudDispatcher();
    private final KubernetesMockServer server;
    final KubernetesClient client;

    MockCluster() {
        server = new KubernetesMockServer(new Context(), new MockWebServer(),
                new HashMap<>(), dispatcher, false);
        server.init();
        client = server.createClient(b -> b
                .withHttpClientFactory(new JdkHttpClientFactory())
                .editOrNewConfig().withWatchReconnectInterval(RECONNECT_MS).endConfig());
    }

    /** Creates a pod scheduled on {@code node}; returns it as stored, with the server-assigned uid. */
    Pod createPod(String namespace, String name, String node, Map<String, String> annotations) {
        Pod pod = new PodBuilder()
                .withNewMetadata()
                    .withNamespace(namespace)
                    .withName(name)
                    .addToLabels(NodeSelectingCrudDispatcher.NODE_LABEL, node)
                    .withAnnotations(annotations)
                .endMetadata()
                .withNewSpec()
                    .withNodeName(node)
                    .addNewContainer().withName("app").withImage("registry.example/app:1").endContainer()
                .endSpec()
                .build();
        return client.pods().inNamespace(namespace).resource(pod).create();
    }

    void annotate(String namespace, String name, String key, String value) {
        client.pods().inNamespace(namespace).withName(name)
                .edit(p -> new PodBuilder(p).editMetadata().addToAnnotations(key, value).endMetadata().build());
    }

    /** Changes only the pod's status, as the kubelet does many times in a pod's life. */
    void setPhase(String namespace, String name, String phase) {
        client.pods().inNamespace(namespace).withName(name)
                .editStatus(p -> new PodBuilder(p).editOrNewStatus().withPhase(phase).endStatus().build());
    }

    void delete(String namespace, String name) {
        client.pods().inNamespace(namespace).withName(name).delete();
    }

    private static java.util.logging.Logger quiet(String name) {
        java.util.logging.Logger logger = java.util.logging.Logger.getLogger(name);
        logger.setLevel(java.util.logging.Level.WARNING);
        return logger;
    }

    @Override
    public void close() {
        client.close();
        try {
            server.destroy();
        } catch (IllegalStateException e) {
            // The mock server's own shutdown waits at most 10 s for idle keep-alive connections of the
            // JDK HTTP client; on a loaded 2-core machine that can run out. The test is over by then,
            // and the server's port is ephemeral: say so rather than fail a test that passed.
            System.err.println("MockCluster: the mock API server did not stop cleanly: " + e.getMessage());
        }
    }
}
