package io.shunt.kerneltests;

import io.shunt.agent.AgentConfig;
import io.shunt.agent.NodeAgent;
import io.shunt.agent.registry.ManagedPod;
import io.shunt.agent.registry.PodSpec;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.probe.Feature;
import io.shunt.hijack.select.Selector;
import io.shunt.hijack.select.Verdict;
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
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Technique selection on the real kernel: the default ranking picks the best technique, a feature
 * masked as missing makes the agent fall back and say why, and a technique whose install fails
 * falls back without leaving any of itself behind.
 */
class SelectionTest {
    /** The tproxy technique's default policy-routing table (TproxySettings). */
    private static final String TPROXY_TABLE = "21321";

    private Topology topology;
    private PodNs pod;
    private NetNs podNs;
    private EchoServer server;
    private InetSocketAddress service;

    @BeforeEach
    void topology() throws IOException {
        topology = Topology.create("ktsel", 1);
        pod = topology.pod(0);
        podNs = pod.open();
        service = new InetSocketAddress(topology.serviceAddress(0), 8080);
        try (NetNs up = topology.upstream().open()) {
            server = EchoServer.start(up, service);
        }
    }

    @AfterEach
    void tearDown() throws IOException {
        server.close();
        podNs.close();
        topology.close();
    }

    @Test
    void theDefaultRankingPicksTcOnThisKernel() throws IOException {
        try (NodeAgent agent = NodeAgent.start(config(Set.of()))) {
            ManagedPod managed = agent.addPod(new PodSpec("pod-a", pod.netnsPath()));
            assertEquals(TechniqueId.TC, managed.technique(), managed.selection().describe());
            assertEquals("tc: chosen; tproxy: not tried; redirect: not tried", managed.selection().describe());
            assertCaptured(agent);
        }
    }

    @Test
    void withSkLookupMaskedTheAgentFallsBackToTproxyAndSaysWhy() throws IOException {
        try (NodeAgent agent = NodeAgent.start(config(Set.of(Feature.BPF_SK_LOOKUP)))) {
            ManagedPod managed = agent.addPod(new PodSpec("pod-a", pod.netnsPath()));
            assertEquals(TechniqueId.TPROXY, managed.technique(), managed.selection().describe());
            Verdict tc = managed.selection().verdicts().getFirst();
            assertEquals(Verdict.Outcome.SKIPPED, tc.outcome());
            assertTrue(tc.reason().contains("bpf-sk-lookup"), tc.toString());
            assertCaptured(agent);
        }
    }

    @Test
    void withTcAndTproxyMaskedTheAgentFallsBackToRedirectAndSaysWhy() throws IOException {
        try (NodeAgent agent = NodeAgent.start(config(Set.of(Feature.BPF_SK_LOOKUP, Feature.NFT_TPROXY)))) {
            ManagedPod managed = agent.addPod(new PodSpec("pod-a", pod.netnsPath()));
            assertEquals(TechniqueId.REDIRECT, managed.technique());
            Verdict tproxy = managed.selection().verdicts().get(1);
            assertEquals(Verdict.Outcome.SKIPPED, tproxy.outcome());
            assertTrue(tproxy.reason().contains("tproxy unsupported") && tproxy.reason().contains("--assume-missing"),
                    tproxy.toString());
            assertCaptured(agent);
        }
    }

    @Test
    void aTproxyInstallThatFailsFallsBackAndLeavesNothingOfItBehind() throws IOException {
        // A foreign default route in tproxy's table: adding tproxy's local default route there conflicts.
        Topology.exec(pod.netnsName(), "ip", "route", "add", "default", "dev", "eth0", "table", TPROXY_TABLE);
        try (NodeAgent agent = NodeAgent.start(config(Set.of(Feature.BPF_SK_LOOKUP)))) {
            ManagedPod managed = agent.addPod(new PodSpec("pod-a", pod.netnsPath()));
            assertEquals(TechniqueId.REDIRECT, managed.technique(), managed.selection().describe());
            Verdict tproxy = managed.selection().verdicts().get(1); // after tc, masked
            assertEquals(Verdict.Outcome.FAILED, tproxy.outcome(), tproxy.toString());
            assertFalse(Topology.exec(pod.netnsName(), "ip", "rule").contains("fwmark"),
                    "tproxy's policy-routing rule was left behind");
            String table = Topology.exec(pod.netnsName(), "ip", "route", "show", "table", TPROXY_TABLE);
            assertTrue(table.contains("default dev eth0"), "the foreign route must stay untouched:\n" + table);
            assertFalse(table.contains("local"), "tproxy's route was left behind:\n" + table);
            assertCaptured(agent);
        }
        assertEquals("", Topology.exec(pod.netnsName(), "nft", "list", "ruleset").strip());
    }

    @Test
    void aPinnedTechniqueIsUsedWithoutFallback() throws IOException {
        try (NodeAgent agent = NodeAgent.start(config(Set.of()))) {
            ManagedPod managed = agent.addPod(new PodSpec("pod-a", pod.netnsPath()).withTechnique(TechniqueId.REDIRECT));
            assertEquals(TechniqueId.REDIRECT, managed.technique());
            assertEquals("redirect: chosen", managed.selection().describe());
        }
    }

    @Test
    void foreignLegacyIptablesTablesInThePodAreReported() throws IOException {
        try (NodeAgent agent = NodeAgent.start(config(Set.of()))) {
            assertEquals(List.of(), agent.addPod(new PodSpec("pod-a", pod.netnsPath())).foreignLegacyTables());
            agent.removePod("pod-a");
            // Another tool, still on iptables-legacy, adds a rule in the pod.
            Topology.exec(pod.netnsName(), "iptables-legacy", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "--dport", "9",
                    "-j", "RETURN");
            ManagedPod managed = agent.addPod(new PodSpec("pod-a", pod.netnsPath()));
            assertTrue(managed.foreignLegacyTables().contains("nat"), managed.foreignLegacyTables().toString());
            assertCaptured(agent);
        }
    }

    private void assertCaptured(NodeAgent agent) throws IOException {
        long before = agent.counters("pod-a").orElseThrow().accepted();
        assertArrayEquals("hello".getBytes(), PodClient.exchange(podNs, service, "hello".getBytes()).echoedBytes());
        assertEquals(before + 1, agent.counters("pod-a").orElseThrow().accepted());
    }

    private static AgentConfig config(Set<Feature> masked) {
        return new AgentConfig(Selector.DEFAULT_RANKING, masked, CapturePolicy.defaults(), EngineConfig.defaults(), true);
    }
}
