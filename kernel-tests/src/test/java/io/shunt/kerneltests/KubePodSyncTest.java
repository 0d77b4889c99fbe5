package io.shunt.kerneltests;

import io.shunt.agent.AgentConfig;
import io.shunt.agent.CniPods;
import io.shunt.agent.NodeAgent;
import io.shunt.agent.OptOut;
import io.shunt.agent.kube.KubePodSync;
import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.k8s.PodIntent;
import io.shunt.k8s.ShuntAnnotations;
import io.shunt.proxy.EngineConfig;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.shunt.kerneltests.KernelTestSupport.closeQuietly;
import static io.shunt.kerneltests.KernelTestSupport.rules;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The agent side of the Kubernetes watcher (the watcher itself is tested against fabric8's mock
 * server in the k8s module): pod annotations, as the watcher delivers them, decide how the runtime's
 * ADD intercepts a pod, and changes to them are applied to the live pod.
 */
class KubePodSyncTest {
    private Topology topology;
    private PodNs web;
    private PodNs dns;
    private NodeAgent agent;
    private KubePodSync sync;
    private CniPods cni;
    private EchoServer service;
    private InetSocketAddress serviceAddress;

    @BeforeEach
    void agent() throws IOException {
        topology = Topology.create("ktkube", 2);
        web = topology.pod(0);
        dns = topology.pod(1);
        try (NetNs up = topology.upstream().open()) {
            serviceAddress = new InetSocketAddress(topology.serviceAddress(0), 8080);
            service = EchoServer.start(up, serviceAddress);
        }
        agent = NodeAgent.start(new AgentConfig(KernelTestSupport.NFT_RANKING, Set.of(), CapturePolicy.defaults(),
                EngineConfig.defaults(), false));
        sync = new KubePodSync(agent, new OptOut(Set.of("kube-system"), Set.of()));
        cni = new CniPods(agent, sync);
    }

    @AfterEach
    void tearDown() throws IOException {
        try {
            closeQuietly(service);
            closeQuietly(agent);
        } finally {
            topology.close();
        }
    }

    @Test
    void annotationsDecideTheAddAndChangesReachTheLivePod() throws IOException {
        assertFalse(cni.ready(), "no ADD before the watcher has listed the node's pods");
        sync.upserted(intent("shop", "web-1", Map.of(ShuntAnnotations.TECHNIQUE, "redirect",
                ShuntAnnotations.EXCLUDE_OUTBOUND_PORTS, "9000")));
        sync.synced();
        assertTrue(cni.ready());

        CniReply added = cni.add(add("c-web", web, "shop", "web-1"));
        assertTrue(added.ok(), added.toString());
        assertEquals("redirect", added.technique(), "the annotation overrides the node's ranking (tproxy first)");
        assertTrue(rules(web).contains("tcp dport 9000 return"), rules(web));
        echo(web);

        // The annotation changes: the live pod moves to tproxy and gets its new exclusions.
        sync.upserted(intent("shop", "web-1", Map.of(ShuntAnnotations.TECHNIQUE, "tproxy",
                ShuntAnnotations.EXCLUDE_OUTBOUND_CIDRS, "10.201.0.30/32")));
        assertEquals(TechniqueId.TPROXY, agent.pod("shop/web-1").orElseThrow().technique());
        String now = rules(web);
        assertTrue(now.contains("tproxy ip to") && now.contains("10.201.0.30") && !now.contains("9000"), now);
        echo(web);

        // Opted out: released on the spot.
        sync.upserted(intent("shop", "web-1", Map.of(ShuntAnnotations.INTERCEPT, "false")));
        assertTrue(agent.pod("shop/web-1").isEmpty());
        assertEquals("", rules(web));
        echo(web);
    }

    @Test
    void optedOutPodsAreSkippedAndDeletedPodsReleased() throws IOException {
        sync.synced();
        CniReply skipped = cni.add(add("c-dns", dns, "kube-system", "coredns-1"));
        assertTrue(skipped.ok());
        assertTrue(skipped.msg().contains("namespace kube-system is opted out"), skipped.msg());
        assertEquals("", rules(dns));

        sync.upserted(intent("shop", "web-2", Map.of(ShuntAnnotations.INTERCEPT, "false")));
        CniReply byAnnotation = cni.add(add("c-web", web, "shop", "web-2"));
        assertTrue(byAnnotation.ok());
        assertTrue(byAnnotation.msg().contains("annotation shunt.io/intercept=false"), byAnnotation.msg());
        assertEquals("", rules(web));

        sync.upserted(intent("shop", "web-2", Map.of()));
        assertTrue(cni.add(add("c-web", web, "shop", "web-2")).ok());
        assertTrue(rules(web).contains("table inet shunt"));
        sync.deleted("shop", "web-2", "uid-web-2");
        assertTrue(agent.pod("shop/web-2").isEmpty(), "a pod deleted from the API is released without a DEL");
        assertEquals("", rules(web));
    }

    private static PodIntent intent(String namespace, String name, Map<String, String> annotations) {
        var parsed = ShuntAnnotations.parse(namespace + "/" + name, annotations);
        return new PodIntent(namespace, name, "uid-" + name, "node-a", parsed.annotations(), parsed.problems());
    }

    private static CniRequest add(String container, PodNs pod, String namespace, String name) {
        return CniRequest.forContainer(CniRequest.Command.ADD, container, pod.netnsPath().toString(), "eth0", namespace,
                name, "uid-" + name, List.of());
    }

    private void echo(PodNs pod) throws IOException {
        try (NetNs ns = NetNs.open(pod.netnsPath())) {
            assertArrayEquals("hi".getBytes(), PodClient.exchange(ns, serviceAddress, "hi".getBytes()).echoedBytes());
        }
    }
}
