package io.shunt.kerneltests;

import io.shunt.agent.AgentConfig;
import io.shunt.agent.NodeAgent;
import io.shunt.agent.registry.ManagedPod;
import io.shunt.agent.registry.PodSpec;
import io.shunt.ffi.bpf.BpfMap;
import io.shunt.ffi.bpf.BpfObject;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.ListenerSockets;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.probe.KernelProbe;
import io.shunt.hijack.select.Selection;
import io.shunt.hijack.select.Selector;
import io.shunt.hijack.select.Verdict;
import io.shunt.hijack.tc.TcHijacker;
import io.shunt.hijack.tproxy.TproxyHijacker;
import io.shunt.proxy.EngineConfig;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tc technique's own promises beyond the conformance suite: removal leaves no BPF object of
 * its (checked by id with bpftool), no tc filter or qdisc it created, no policy routing and the
 * sysctl as it was; a BPF object that does not load makes selection fall back with libbpf's
 * message instead of failing the pod.
 */
class TcTechniqueTest {
    private Topology topology;
    private PodNs pod;
    private NetNs podNs;
    private EchoServer server;
    private InetSocketAddress service;

    @BeforeEach
    void topology() throws IOException {
        Selector tc = new Selector(List.of(TechniqueId.TC));
        Verdict offered = tc.assess(KernelProbe.run()).getFirst();
        Assumptions.assumeTrue(offered.outcome() != Verdict.Outcome.SKIPPED, "tc is not offered here: " + offered.reason());
        topology = Topology.create("kttc", 1);
        pod = topology.pod(0);
        podNs = pod.open();
        service = new InetSocketAddress(topology.serviceAddress(0), 8080);
        try (NetNs up = topology.upstream().open()) {
            server = EchoServer.start(up, service);
        }
    }

    @AfterEach
    void tearDown() throws IOException {
        if (topology != null) {
            server.close();
            podNs.close();
            topology.close();
        }
    }

    @Test
    void removeLeavesNoProgramLinkMapPinFilterQdiscOrRoute() throws IOException {
        String acceptLocalBefore = Topology.exec(pod.netnsName(), "sysctl", "-n", "net.ipv4.conf.lo.accept_local").strip();
        assertFalse(Topology.exec(pod.netnsName(), "tc", "qdisc", "show", "dev", "eth0").contains("clsact"));
        List<Integer> programs = new ArrayList<>();
        List<Integer> links = new ArrayList<>();
        List<Integer> maps = new ArrayList<>();
        Path folder;
        try (NodeAgent agent = NodeAgent.start(new AgentConfig(List.of(TechniqueId.TC), Set.of(), CapturePolicy.defaults(),
                EngineConfig.defaults(), true))) {
            ManagedPod managed = agent.addPod(new PodSpec("pod-a", pod.netnsPath()));
            assertEquals(TechniqueId.TC, managed.technique());
            assertArrayEquals("via tc".getBytes(), PodClient.exchange(podNs, service, "via tc".getBytes()).echoedBytes());
            assertEquals(1, agent.counters("pod-a").orElseThrow().accepted());

            String installed = managed.hijacker().installed(podNs).orElseThrow();
            programs.addAll(ids(installed, "program id (\\d+)"));
            links.addAll(ids(installed, "sk_lookup link id (\\d+)"));
            assertEquals(3, programs.size(), "egress, ingress and sk_lookup programs: " + installed);
            assertEquals(1, links.size(), installed);
            // read back from the kernel's maps (PolicyMaps), not from what the agent meant to write
            assertTrue(installed.contains("map shunt_local4: " + pod.address().getHostAddress() + "\n"), installed);
            Matcher pinned = Pattern.compile("maps pinned in (\\S+)").matcher(installed);
            assertTrue(pinned.find(), installed);
            folder = Path.of(pinned.group(1));
            try (Stream<Path> pins = Files.list(folder)) {
                for (Path pin : pins.filter(p -> p.getFileName().toString().startsWith("shunt_")).toList()) {
                    try (BpfMap map = BpfMap.openPinned(pin)) {
                        maps.add(map.id());
                    }
                }
            }
            assertEquals(9, maps.size(), "every map of shunt_tc is pinned: " + maps);
            assertEquals("1", Topology.exec(pod.netnsName(), "sysctl", "-n", "net.ipv4.conf.lo.accept_local").strip());
            for (int id : programs) {
                assertTrue(bpftoolShows("prog", id), "program " + id + " is loaded while installed");
            }

            assertTrue(agent.removePod("pod-a"));
        }
        assertFalse(Files.exists(folder), "the pod's pin folder " + folder + " is gone");
        // programs and maps are freed once their last reference goes (RCU): bounded wait
        assertTrue(KernelTestSupport.await(Duration.ofSeconds(5), () -> Stream.of(
                programs.stream().map(id -> bpftoolShows("prog", id)),
                links.stream().map(id -> bpftoolShows("link", id)),
                maps.stream().map(id -> bpftoolShows("map", id))).flatMap(s -> s).noneMatch(shown -> shown)),
                "programs " + programs + ", link " + links + " and maps " + maps + " must all be gone");
        assertEquals("", Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "egress").strip());
        assertEquals("", Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "ingress").strip());
        assertFalse(Topology.exec(pod.netnsName(), "tc", "qdisc", "show", "dev", "eth0").contains("clsact"),
                "the clsact qdisc tc created is removed with its last filter");
        assertFalse(Topology.exec(pod.netnsName(), "ip", "rule").contains("fwmark"));
        assertFalse(Topology.exec(pod.netnsName(), "ip", "route", "show", "table", "all").contains("local default"));
        assertEquals(acceptLocalBefore,
                Topology.exec(pod.netnsName(), "sysctl", "-n", "net.ipv4.conf.lo.accept_local").strip(),
                "accept_local is restored");
        assertArrayEquals("direct".getBytes(), PodClient.exchange(podNs, service, "direct".getBytes()).echoedBytes());
    }

    @Test
    void aBpfObjectThatDoesNotLoadFallsBackWithLibbpfsMessageAndLeavesNothing() throws Exception {
        byte[] real;
        try (InputStream in = BpfObject.class.getResourceAsStream(BpfObject.RESOURCE_FOLDER + "shunt_tc.bpf.o")) {
            real = in.readAllBytes();
        }
        // a truncated ELF: what a damaged jar or a half-written file gives
        byte[] truncated = Arrays.copyOf(real, real.length / 2);
        TcHijacker broken = new TcHijacker(TcHijacker.configuredBpffs(), TcHijacker.DEFAULT_ROUTING,
                () -> BpfObject.open("shunt_tc", truncated));
        TproxyHijacker tproxy = new TproxyHijacker();
        CapturePolicy policy = CapturePolicy.defaults();
        Selection selection = new Selector(List.of(TechniqueId.TC, TechniqueId.TPROXY)).select(KernelProbe.run(), t -> {
            if (t == TechniqueId.TC) {
                // fd 0 is never used: the object fails to open before any listener is inserted
                broken.install(podNs, policy, new ListenerSockets(0, -1));
            } else {
                tproxy.install(podNs, policy);
            }
        });
        try {
            assertEquals(TechniqueId.TPROXY, selection.chosen(), selection.describe());
            Verdict tc = selection.verdicts().getFirst();
            assertEquals(Verdict.Outcome.FAILED, tc.outcome(), tc.toString());
            assertTrue(tc.reason().contains("libbpf") || tc.reason().contains("bpf_object"), tc.reason());
            assertTrue(tc.reason().contains(pod.netnsPath().toString()), tc.reason());
            assertEquals("", Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "egress").strip());
            assertFalse(Topology.exec(pod.netnsName(), "ip", "rule").contains("0x534a"), "tc's routing is not left");
            assertEquals(Optional.empty(), broken.installed(podNs));
        } finally {
            tproxy.remove(podNs);
        }
    }

    @Test
    void aPolicyWithAGroupOwnerExclusionFallsBackFromTcSayingWhy() throws IOException {
        CapturePolicy policy = CapturePolicy.defaults().withExcludeOutboundOwners(List.of(
                new io.shunt.hijack.policy.SocketOwner(io.shunt.hijack.policy.SocketOwner.Kind.GID, 4242)));
        try (NodeAgent agent = NodeAgent.start(new AgentConfig(List.of(TechniqueId.TC, TechniqueId.TPROXY), Set.of(),
                policy, EngineConfig.defaults(), true))) {
            ManagedPod managed = agent.addPod(new PodSpec("pod-a", pod.netnsPath()));
            assertEquals(TechniqueId.TPROXY, managed.technique(), managed.selection().describe());
            Verdict tc = managed.selection().verdicts().getFirst();
            assertEquals(Verdict.Outcome.FAILED, tc.outcome(), tc.toString());
            assertTrue(tc.reason().contains("gid 4242"), tc.reason());
            assertEquals("", Topology.exec(pod.netnsName(), "tc", "filter", "show", "dev", "eth0", "egress").strip());
            assertArrayEquals("via tproxy".getBytes(), PodClient.exchange(podNs, service, "via tproxy".getBytes()).echoedBytes());
        }
    }

    /** Whether bpftool still finds the object with that id (it exits non-zero for an unknown id). */
    private boolean bpftoolShows(String kind, int id) {
        try {
            Topology.exec(pod.netnsName(), "bpftool", kind, "show", "id", Integer.toString(id));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static List<Integer> ids(String text, String regex) {
        List<Integer> ids = new ArrayList<>();
        Matcher m = Pattern.compile(regex).matcher(text);
        while (m.find()) {
            ids.add(Integer.parseInt(m.group(1)));
        }
        return ids;
    }
}
