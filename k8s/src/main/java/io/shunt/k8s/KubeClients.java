package io.shunt.k8s;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Builds the {@link KubernetesClient} the agent talks to its cluster with. Always on the JDK's own
 * HTTP client, named here rather than found on the class path, so a Vert.x or OkHttp jar that some
 * other dependency brings in cannot change the transport under the agent.
 */
public final class KubeClients {
    static final String SERVICE_HOST_ENV = "KUBERNETES_SERVICE_HOST";
    static final String SERVICE_PORT_ENV = "KUBERNETES_SERVICE_PORT";
    static final Path SERVICE_ACCOUNT = Path.of("/var/run/secrets/kubernetes.io/serviceaccount");

    private KubeClients() {
    }

    /**
     * A client for the cluster this process runs in as a pod: the API server from
     * {@value #SERVICE_HOST_ENV}/{@value #SERVICE_PORT_ENV}, the pod's service account token and CA.
     * Unlike fabric8's autoconfiguration, a kubeconfig lying around in the container is not looked
     * at. The token file is read for every request, so a projected token the kubelet rotates keeps
     * working without a restart.
     *
     * @throws IllegalStateException when not running in a pod, saying what is missing
     */
    public static KubernetesClient inCluster() {
        String host = System.getenv(SERVICE_HOST_ENV);
        String port = System.getenv(SERVICE_PORT_ENV);
        if (host == null || host.isBlank() || port == null || port.isBlank()) {
            throw new IllegalStateException("not running in a Kubernetes pod: " + SERVICE_HOST_ENV + " and "
                    + SERVICE_PORT_ENV + " are not both set; outside a cluster pass a kubeconfig file instead");
        }
        Path token = SERVICE_ACCOUNT.resolve("token");
        if (!Files.isReadable(token)) {
            throw new IllegalStateException("no service account token at " + token
                    + "; give the agent's pod a service account and leave automountServiceAccountToken on");
        }
        // an IPv6 service host needs brackets in the URL
        String hostPort = host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
        return build(new ConfigBuilder(Config.empty())
                .withMasterUrl("https://" + hostPort)
                .withCaCertFile(SERVICE_ACCOUNT.resolve("ca.crt").toString())
                .withOauthTokenProvider(() -> readToken(token))
                .build());
    }

    /**
     * A client for the current context of a kubeconfig file, for running the agent outside the
     * cluster (development, a plain Linux host).
     *
     * @throws IllegalArgumentException if the file cannot be read
     */
    public static KubernetesClient fromKubeconfig(Path kubeconfig) {
        if (!Files.isReadable(kubeconfig)) {
            throw new IllegalArgumentException("kubeconfig " + kubeconfig.toAbsolutePath()
                    + " does not exist or is not readable");
        }
        return build(Config.fromKubeconfig(kubeconfig.toFile()));
    }

    private static String readToken(Path token) {
        try {
            return Files.readString(token).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("reading the service account token " + token + " failed: " + e, e);
        }
    }

    static KubernetesClient build(Config config) {
        return new KubernetesClientBuilder()
                .withConfig(config)
                .withHttpClientFactory(new JdkHttpClientFactory())
                .build();
    }
}
