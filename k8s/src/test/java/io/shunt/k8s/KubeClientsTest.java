package io.shunt.k8s;

import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class KubeClientsTest {

    @Test
    void aKubeconfigClientReachesTheServerItNames(@TempDir Path dir) throws IOException {
        try (MockCluster cluster = new MockCluster()) {
            cluster.createPod("shop", "web-1", "node-a", Map.of());
            Path kubeconfig = dir.resolve("config");
            Files.writeString(kubeconfig, """
                    apiVersion: v1
                    kind: Config
                    clusters:
                    - name: mock
                      cluster:
                        server: %s
                    users:
                    - name: agent
                      user:
                        token: t0ken
                    contexts:
                    - name: mock
                      context:
                        cluster: mock
                        user: agent
                    current-context: mock
                    """.formatted(cluster.client.getMasterUrl()));

            try (KubernetesClient client = KubeClients.fromKubeconfig(kubeconfig)) {
                assertEquals(1, client.pods().inNamespace("shop").list().getItems().size());
                assertEquals(cluster.client.getMasterUrl(), client.getMasterUrl());
            }
        }
    }

    @Test
    void aMissingKubeconfigIsNamed(@TempDir Path dir) {
        Path missing = dir.resolve("nope");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KubeClients.fromKubeconfig(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    }

    @Test
    void inClusterOutsideAPodSaysWhatIsMissing() {
        assumeTrue(System.getenv(KubeClients.SERVICE_HOST_ENV) == null,
                "this test runs outside a pod; here " + KubeClients.SERVICE_HOST_ENV + " is set");
        IllegalStateException e = assertThrows(IllegalStateException.class, KubeClients::inCluster);
        assertTrue(e.getMessage().contains(KubeClients.SERVICE_HOST_ENV), e.getMessage());
    }
}
