package io.shunt.kerneltests;

import io.shunt.agent.AgentConfig;
import io.shunt.agent.CniPods;
import io.shunt.agent.KubeletPodCgroups;
import io.shunt.agent.OptOut;
import io.shunt.agent.PodAdmission;
import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
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
import io.shunt.hijack.sockmap.SockmapHijacker;
import io.shunt.hijack.tc.TcHijacker;
import io.shunt.hijack.tproxy.TproxyHijacker;
import io.shunt.proxy.EngineConfig;
import io.shunt.proxy.Transport;
import io.shunt.testbed.AgentProcess;
import io.shunt.testbed.EchoServer;
import io.shunt.testbed.PodClient;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.ScratchCgroup;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sockmap technique's own promises beyond the conformance suite: the bytes really moved by
 * sk_msg redirection (the node's BPF counters, not just traffic flowing), removal leaves no BPF
 * program, link, map or pin of it (checked by id with bpftool), a BPF object that does not load
 * falls back with libbpf's message and leaves nothing, and io_uring with multishot POLLIN (which
 * stalls on sk_msg queues) is refused with its reason so the pod falls back.
 */
class SockmapTechniqueTest {
    private Topology topology;
    private PodNs pod;
    private NetNs podNs;
    private EchoServer server;
    private InetSocketAddress service;
    private ScratchCgroup cgroup;
    private AutoCloseable inCgroup;

    @BeforeEach
    void topology() throws IOException {
        Verdict offered = new Selector(List.of(TechniqueId.SOCKMAP)).assess(KernelProbe.run()).getFirst();
        Assumptions.assumeTrue(offered.outcome() != Verdict.Outcome.SKIPPED, "sockmap is not offered here: " + offered.reason());
        topology = Topology.create("ktsm", 1);
        pod = topology.pod(0);
        podNs = pod.open();
        service = new InetSocketAddress(topology.serviceAddress(0), 8080);
        try (NetNs up = topology.upstream().open()) {
            server = EchoServer.start(up, service);
        }
        cgroup = ScratchCgroup.create("shunt-kt");
        inCgroup = cgroup.enter();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (topology != null) {
            try {
                inCgroup.close();
                cgroup.close();
            } finally {
                server.close();
                podNs.close();
                topology.close();
            }
        }
    }

    @Test
    void theBytesMoveBySkMsgBothWaysAndRemovalLeavesNoProgramLinkMapOrPin() throws IOException {
        List<Integer> programs = new ArrayList<>();
        List<Integer> links = new ArrayList<>();
        List<Integer> maps = new ArrayList<>();
        List<Path> folders = new ArrayList<>();
        // within the window (512 KiB): every byte of the app's may take the sk_msg path
        byte[] payload = new byte[256 << 10];
        new Random(7).nextBytes(payload);
        try (NodeAgent agent = NodeAgent.start(config(List.of(TechniqueId.SOCKMAP), null))) {
            ManagedPod managed = agent.addPod(new PodSpec("pod-a", pod.netnsPath()).withCgroup(cgroup.dir()));
            assertEquals(TechniqueId.SOCKMAP, managed.technique());
            SockmapHijacker sockmap = (SockmapHijacker) managed.hijacker();
            Map<String, Long> before = sockmap.nodeCounters();

            PodClient.Exchange exchange = PodClient.exchange(podNs, service, payload);

            assertArrayEquals(payload, exchange.echoedBytes(), "every byte, in order, both ways");
            Map<String, Long> after = sockmap.nodeCounters();
            long redirected = after.get("msg-redirected-bytes") - before.get("msg-redirected-bytes");
            // app -> proxy by sk_msg; proxy -> app through TCP, whose window is the only flow control there
            assertEquals(payload.length, redirected, "bytes moved by sk_msg; counters " + after);
            assertEquals(before.get("msg-passed"), after.get("msg-passed"), "none of the app's messages took TCP: " + after);
            assertTrue(after.get("proxy-msg-tcp") > before.get("proxy-msg-tcp"), "the proxy's replies took TCP: " + after);
            assertEquals(before.get("connect-diverted") + 1, after.get("connect-diverted"));
            assertEquals(before.get("origdst-answered") + 1, after.get("origdst-answered"),
                    "the proxy learnt the destination from the getsockopt program");

            String installed = managed.hijacker().installed(podNs).orElseThrow();
            programs.addAll(ids(installed, "program id (\\d+)"));
            links.addAll(ids(installed, "link id (\\d+)"));
            // five pod programs, the agent's two, tc's ingress filter and sk_lookup
            assertEquals(9, programs.size(), installed);
            assertEquals(8, links.size(), "five pod links, two agent links, the sk_lookup link: " + installed);
            // read back from the kernel's maps (PolicyMaps), not from what the agent meant to write
            assertTrue(installed.contains("map shunt_local4: " + pod.address().getHostAddress() + "\n"), installed);
            Matcher pinned = Pattern.compile("maps pinned in (\\S+)").matcher(installed);
            while (pinned.find()) {
                folders.add(Path.of(pinned.group(1)));
            }
            assertEquals(3, folders.size(), "the pod's, the node's and the inbound half's pin folders: " + installed);
            for (Path folder : folders) {
                try (Stream<Path> pins = Files.list(folder)) {
                    for (Path pin : pins.filter(p -> p.getFileName().toString().startsWith("shunt_")).toList()) {
                        try (BpfMap map = BpfMap.openPinned(pin)) {
                            maps.add(map.id());
                        }
                    }
                }
            }
            assertEquals(7 + 8 + 9, maps.size(), "the pod's seven, the node's eight and tc's nine maps: " + maps);

            assertTrue(agent.removePod("pod-a"));
        }
        for (Path folder : folders) {
            assertFalse(Files.exists(folder), "pin folder " + folder + " is gone");
        }
        assertTrue(KernelTestSupport.await(Duration.ofSeconds(5), () -> Stream.of(
                        programs.stream().map(id -> bpftoolShows("prog", id)),
                        links.stream().map(id -> bpftoolShows("link", id)),
                        maps.stream().map(id -> bpftoolShows("map", id))).flatMap(s -> s).noneMatch(shown -> shown)),
                "programs " + programs + ", links " + links + " and maps " + maps + " must all be gone");
        assertEquals("", Topology.execHere("bpftool", "cgroup", "show", cgroup.dir().toString()).strip());
        assertArrayEquals("direct".getBytes(), PodClient.exchange(podNs, service, "direct".getBytes()).echoedBytes());
        assertEquals(1, server.accepted() - 1, "both exchanges reached the upstream");
    }

    /**
     * The kernel applies no receive window to redirected bytes: an app writing into a proxy that
     * stopped reading (its upstream does not read) would queue until the node's TCP memory ran out
     * and its send failed with ENOMEM. The window moves it to TCP instead; every byte arrives.
     */
    @Test
    void anAppWritingIntoAProxyThatStoppedReadingMovesToTcpAndLosesNothing() throws Exception {
        InetSocketAddress slow = new InetSocketAddress(topology.serviceAddress(0), 8090);
        byte[] payload = new byte[16 << 20];
        new Random(11).nextBytes(payload);
        try (NetNs up = topology.upstream().open();
             ServerSocketChannel listener = up.run(() -> ServerSocketChannel.open());
             NodeAgent agent = NodeAgent.start(config(List.of(TechniqueId.SOCKMAP), null))) {
            listener.bind(slow);
            agent.addPod(new PodSpec("pod-a", pod.netnsPath()).withCgroup(cgroup.dir()));
            SockmapHijacker sockmap = (SockmapHijacker) agent.pod("pod-a").orElseThrow().hijacker();
            Map<String, Long> before = sockmap.nodeCounters();
            java.util.concurrent.CompletableFuture<byte[]> received = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try (java.nio.channels.SocketChannel ch = listener.accept()) {
                    Thread.sleep(1500); // not reading: the proxy's upstream fills and it stops reading the app
                    return ch.socket().getInputStream().readAllBytes();
                } catch (Exception e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
            try (java.nio.channels.SocketChannel app = PodClient.connect(podNs, slow, Duration.ofSeconds(10))) {
                java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(payload);
                while (buf.hasRemaining()) {
                    app.write(buf); // an ENOMEM here would be the failure this test is about
                }
                app.shutdownOutput();
                assertArrayEquals(payload, received.get(60, java.util.concurrent.TimeUnit.SECONDS), "every byte, in order");
            }
            Map<String, Long> after = sockmap.nodeCounters();
            assertTrue(after.get("window-closed") > before.get("window-closed"), "the window closed: " + after);
            long redirected = after.get("msg-redirected-bytes") - before.get("msg-redirected-bytes");
            assertTrue(redirected <= (512 << 10), "at most the window took the sk_msg path: " + redirected);
        }
    }

    @Test
    void aCniPodGetsTheKubeletsPodGroupFromItsUidAndIsInterceptedBySockmap() throws Exception {
        String uid = "0b5d6f4e-7a8b-4c9d-8e0f-1a2b3c4d5e6f";
        // the kubelet's cgroupfs layout, under the test's own group standing in for the host's root
        Path kubepods = Files.createDirectory(cgroup.dir().resolve("kubepods"));
        Path burstable = Files.createDirectory(kubepods.resolve("burstable"));
        Path podGroup = Files.createDirectory(burstable.resolve("pod" + uid));
        try (NodeAgent agent = NodeAgent.start(config(List.of(TechniqueId.SOCKMAP, TechniqueId.TC), null))) {
            CniPods cni = new CniPods(agent, PodAdmission.of(OptOut.NONE), Optional.of(new KubeletPodCgroups(cgroup.dir())));
            CniReply reply = cni.add(new CniRequest(CniRequest.Command.ADD, "c0ffee" + "0".repeat(58),
                    pod.netnsPath().toString(), "eth0", "default", "web-1", uid, List.of(), List.of(), "kt"));
            assertTrue(reply.ok(), reply.toString());
            assertEquals("sockmap", reply.technique(), reply.toString());
            assertEquals(Optional.of(podGroup), agent.pod("default/web-1").orElseThrow().spec().cgroup());
            // the pod's processes run in its group: this JVM is the pod's client
            Files.writeString(podGroup.resolve("cgroup.procs"), Long.toString(ProcessHandle.current().pid()));
            try {
                assertArrayEquals("via sockmap".getBytes(),
                        PodClient.exchange(podNs, service, "via sockmap".getBytes()).echoedBytes());
                assertEquals(1, agent.counters("default/web-1").orElseThrow().accepted());
            } finally {
                Files.writeString(cgroup.dir().resolve("cgroup.procs"), Long.toString(ProcessHandle.current().pid()));
            }
            assertTrue(cni.delete(new CniRequest(CniRequest.Command.DEL, "c0ffee" + "0".repeat(58),
                    pod.netnsPath().toString(), "eth0", "default", "web-1", uid, List.of(), List.of(), "kt")).ok());
        } finally {
            Files.delete(podGroup);
            Files.delete(burstable);
            Files.delete(kubepods);
        }
    }

    @Test
    void aBpfObjectThatDoesNotLoadFallsBackWithLibbpfsMessageAndLeavesNothing() throws Exception {
        byte[] real;
        try (InputStream in = BpfObject.class.getResourceAsStream(BpfObject.RESOURCE_FOLDER + "shunt_sm_pod.bpf.o")) {
            real = in.readAllBytes();
        }
        byte[] truncated = Arrays.copyOf(real, real.length / 2);
        Path bpffs = TcHijacker.configuredBpffs();
        SockmapHijacker broken = new SockmapHijacker(bpffs, () -> BpfObject.open("shunt_sm_node"),
                () -> BpfObject.open("shunt_sm_pod", truncated), TcHijacker::openObject);
        TproxyHijacker tproxy = new TproxyHijacker();
        CapturePolicy policy = CapturePolicy.defaults();
        try (ServerSocketChannel listener = podNs.run(() -> ServerSocketChannel.open())) {
            listener.bind(new InetSocketAddress("127.0.0.1", 0));
            // the JDK's own fd accessor; the test JVM runs with --add-exports java.base/sun.nio.ch
            int fd = (int) Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal").invoke(listener);
            Selection selection = new Selector(List.of(TechniqueId.SOCKMAP, TechniqueId.TPROXY)).select(KernelProbe.run(), t -> {
                if (t == TechniqueId.SOCKMAP) {
                    broken.install(podNs, policy, new ListenerSockets(fd, -1), Optional.of(cgroup.dir()));
                } else {
                    tproxy.install(podNs, policy);
                }
            });
            try {
                assertEquals(TechniqueId.TPROXY, selection.chosen(), selection.describe());
                Verdict sockmap = selection.verdicts().getFirst();
                assertEquals(Verdict.Outcome.FAILED, sockmap.outcome(), sockmap.toString());
                assertTrue(sockmap.reason().contains("libbpf") || sockmap.reason().contains("bpf_object"), sockmap.reason());
                assertTrue(sockmap.reason().contains(pod.netnsPath().toString()), sockmap.reason());
                assertEquals(Optional.empty(), broken.installed(podNs));
                assertEquals("", Topology.execHere("bpftool", "cgroup", "show", cgroup.dir().toString()).strip());
                assertFalse(Files.exists(bpffs.resolve("shunt").resolve("sockmap")),
                        "the node half loaded before the pod's object failed is taken out again");
            } finally {
                tproxy.remove(podNs);
            }
        }
    }

    @Test
    void onIoUringWithMultishotPollInSockmapIsRefusedWithTheReasonAndThePodFallsBack() throws IOException {
        Assumptions.assumeTrue(Transport.IO_URING.isAvailable(), "io_uring is not available here");
        // the agent turns multishot POLLIN off itself; an operator who turns it back on gets tc
        AgentProcess agent = AgentProcess.start(List.of("-D" + Transport.POLL_ADD_MULTISHOT_PROPERTY + "=true"),
                List.of("--pod", "pod-a=" + pod.netnsPath() + ",cgroup=" + cgroup.dir(), "--technique", "sockmap,tc"),
                null, Duration.ofSeconds(60));
        try {
            assertArrayEquals("via tc".getBytes(), PodClient.exchange(podNs, service, "via tc".getBytes()).echoedBytes());
            String log = String.join("\n", agent.output());
            assertTrue(log.contains("technique=tc intercepted") && log.contains("sockmap is not used with this transport")
                    && log.contains(Transport.POLL_ADD_MULTISHOT_PROPERTY), log);
            assertEquals("", Topology.execHere("bpftool", "cgroup", "show", cgroup.dir().toString()).strip());
        } finally {
            assertEquals(0, agent.stop(Duration.ofSeconds(30)));
        }
    }

    private static AgentConfig config(List<TechniqueId> ranking, Transport transport) {
        return new AgentConfig(ranking, Set.of(), CapturePolicy.defaults(), EngineConfig.defaults(transport), true);
    }

    private static List<Integer> ids(String text, String regex) {
        List<Integer> out = new ArrayList<>();
        Matcher m = Pattern.compile(regex).matcher(text);
        while (m.find()) {
            out.add(Integer.parseInt(m.group(1)));
        }
        return out;
    }

    private static boolean bpftoolShows(String kind, int id) {
        try {
            Topology.execHere("bpftool", kind, "show", "id", Integer.toString(id));
            return true;
        } catch (IOException gone) {
            return false;
        }
    }
}
