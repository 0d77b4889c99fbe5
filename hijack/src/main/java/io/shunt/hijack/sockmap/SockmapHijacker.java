package io.shunt.hijack.sockmap;

import io.shunt.ffi.bpf.BpfMap;
import io.shunt.ffi.bpf.BpfObject;
import io.shunt.ffi.bpf.Bpffs;
import io.shunt.ffi.bpf.CgroupAttachment;
import io.shunt.ffi.libc.SocketOptions;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.HijackException;
import io.shunt.hijack.InstallSteps;
import io.shunt.hijack.Hijacker;
import io.shunt.hijack.ListenerSockets;
import io.shunt.hijack.RulePlan;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.nft.NftRuleset;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.tc.MapSync;
import io.shunt.hijack.tc.PolicyMaps;
import io.shunt.hijack.tc.TcHijacker;
import io.shunt.hijack.tc.TcMaps;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * The {@code sockmap} technique (docs/design.md, "The sockmap technique"): the pod's outbound
 * connections are diverted in {@code connect()} by cgroup programs, with no NAT, no conntrack and
 * no packet rerouting, and the bytes between the app's socket and the proxy's accepted socket move
 * through sk_msg redirection instead of the loopback TCP stack. Per pod:
 * <ul>
 *   <li>{@code shunt_sm_pod.bpf.o}'s five programs attached to the pod's cgroup v2 group by links
 *       pinned in {@code <bpffs>/shunt/sockmap/netns-<inode>/}, with the pod's maps (policy,
 *       addresses, the netns cookie that confines the programs to the pod's own sockets);</li>
 *   <li>an entry for the pod's outbound listener in the node's {@code shunt_sm_listen};</li>
 *   <li>inbound capture as tc does it ({@link TcHijacker.Scope#INBOUND}: sk_lookup and the
 *       ingress filter).</li>
 * </ul>
 * and once per node {@link SockmapNode}. The original destination reaches the proxy as
 * {@code SO_ORIGINAL_DST}, answered by the node's cgroup/getsockopt program.
 *
 * <p>A connection, once diverted, depends on nothing this technique removes: the app is connected
 * to the listener itself. Removing the pod or moving it to another technique leaves open
 * connections working.
 */
public final class SockmapHijacker implements Hijacker {
    static final String POD_FOLDER_PREFIX = "netns-";
    private static final String FOLDER = "sockmap";

    private final Path bpffsRoot;
    private final TcHijacker.ObjectSource podObject;
    private final SockmapNode node;
    private final TcHijacker inbound;
    private final AgentCgroupSource agentCgroup;

    /** Where the agent's own cgroup comes from (tests may name one). */
    @FunctionalInterface
    interface AgentCgroupSource {
        AgentCgroup get() throws IOException;
    }

    /** With the bpffs root tc uses ({@link TcHijacker#configuredBpffs()}) and the objects from the jar. */
    public SockmapHijacker() {
        this(TcHijacker.configuredBpffs(), () -> BpfObject.open(SockmapMaps.NODE_OBJECT),
                () -> BpfObject.open(SockmapMaps.POD_OBJECT), TcHijacker::openObject);
    }

    /** For tests: the objects from elsewhere (e.g. a corrupted one, to see the install fail cleanly). */
    public SockmapHijacker(Path bpffsRoot, TcHijacker.ObjectSource nodeObject, TcHijacker.ObjectSource podObject,
                           TcHijacker.ObjectSource tcObject) {
        this(bpffsRoot, nodeObject, podObject, tcObject, AgentCgroup::ofThisProcess);
    }

    SockmapHijacker(Path bpffsRoot, TcHijacker.ObjectSource nodeObject, TcHijacker.ObjectSource podObject,
                    TcHijacker.ObjectSource tcObject, AgentCgroupSource agentCgroup) {
        this.bpffsRoot = Objects.requireNonNull(bpffsRoot, "bpffsRoot");
        this.podObject = Objects.requireNonNull(podObject, "podObject");
        this.node = new SockmapNode(bpffsRoot.resolve("shunt").resolve(FOLDER).resolve("node"), nodeObject);
        this.inbound = TcHijacker.inboundOnly(bpffsRoot, tcObject);
        this.agentCgroup = agentCgroup;
    }

    @Override
    public TechniqueId technique() {
        return TechniqueId.SOCKMAP;
    }

    /** Like tc: installing removes Shunt's shared nft table (a live move), and adds none. */
    @Override
    public RulePlan plan(CapturePolicy policy) {
        SockmapMaps.contents(policy);
        return new RulePlan(TechniqueId.SOCKMAP, policy, NftRuleset.removeScript(), NftRuleset.removeScript());
    }

    @Override
    public void install(NetNs pod, CapturePolicy policy) throws HijackException {
        install(pod, policy, null, Optional.empty());
    }

    @Override
    public void install(NetNs pod, CapturePolicy policy, ListenerSockets listeners) throws HijackException {
        install(pod, policy, listeners, Optional.empty());
    }

    /**
     * The cgroup half first, then the inbound half, whose install removes the shared nft table
     * last: a pod moving from redirect or tproxy is never without interception. A failure of
     * either half undoes what this call added.
     */
    @Override
    public void install(NetNs pod, CapturePolicy policy, ListenerSockets listeners, Optional<Path> cgroup)
            throws HijackException {
        SockmapMaps.Contents contents = contents(pod, policy);
        List<String> undone = new ArrayList<>();
        boolean[] fresh = {false};
        run(pod, "install", () -> {
            Path folder = podFolder(pod, true);
            State state = state(folder);
            if (state.complete()) {
                updateInPlace(pod, folder, contents, listeners);
            } else {
                if (!state.parts().isEmpty()) {
                    removePodPart(folder);
                }
                fresh(pod, folder, contents, listeners, cgroup, undone);
                fresh[0] = true;
            }
            return null;
        }, e -> undone.isEmpty() ? "" : "what this install had done was taken out again: " + String.join(", ", undone));
        try {
            // owners are matched by the cgroup programs; tc's inbound half knows no gid and needs none
            inbound.install(pod, policy.withExcludeOutboundOwners(List.of()), listeners);
        } catch (HijackException | RuntimeException e) {
            if (fresh[0]) {
                try {
                    run(pod, "install (undo)", () -> {
                        removePodPart(existingPodFolder(pod).orElseThrow());
                        node.removeIfUnused();
                        return null;
                    }, x -> "");
                } catch (HijackException | RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private SockmapMaps.Contents contents(NetNs pod, CapturePolicy policy) throws HijackException {
        try {
            return SockmapMaps.contents(policy);
        } catch (IllegalArgumentException e) {
            throw new HijackException(technique(), "install", pod.path(), e.getMessage(), e);
        }
    }

    private void fresh(NetNs pod, Path folder, SockmapMaps.Contents contents, ListenerSockets listeners,
                       Optional<Path> cgroup, List<String> undone) throws IOException {
        if (cgroup.isEmpty()) {
            throw new IOException("no cgroup is known for this pod: the sockmap technique attaches its programs to the "
                    + "pod's cgroup v2 group (the agent learns it from the pod's record: standalone --pod "
                    + "NAME=NETNS,cgroup=DIR); the pod falls back to the next technique");
        }
        if (listeners == null) {
            throw new IOException("nothing of sockmap is installed in this pod yet, and no listener sockets were given: "
                    + "the technique confines its programs to the pod's netns by the outbound listener's netns "
                    + "cookie; install through the agent, which passes the sockets");
        }
        List<Inet4Address> addresses = podAddresses();
        AgentCgroup agent = agentCgroup.get();
        InstallSteps done = new InstallSteps();
        try {
            node.ensure(agent);
            try (BpfObject obj = podObject.open()) {
                for (String map : SockmapMaps.NODE_MAPS) {
                    obj.pinMapOnLoad(map, node.mapPin(map));
                }
                for (String map : SockmapMaps.POD_MAPS) {
                    obj.pinMapOnLoad(map, folder.resolve(map));
                }
                done.add("map pins in " + folder, () -> unpinPodMaps(folder));
                obj.load();
                long cookie = SocketOptions.netnsCookie(listeners.outboundFd());
                java.util.Map<String, BpfMap> maps = new java.util.HashMap<>();
                for (String map : SockmapMaps.POD_MAPS) {
                    maps.put(map, obj.map(map));
                }
                writePodMaps(maps::get, contents, cookie, addresses);
                byte[] listenKey = SockmapMaps.listenKey(cookie, contents.outboundPort());
                obj.map(SockmapMaps.LISTEN).update(listenKey, TcMaps.PRESENT, BpfMap.Update.ANY);
                done.add("the outbound listener's entry in " + SockmapMaps.LISTEN, () -> deleteListen(listenKey));
                // connect4/6 last: nothing is diverted before the rest is in place
                for (String program : SockmapMaps.POD_PROGRAMS.reversed()) {
                    try (CgroupAttachment link = CgroupAttachment.attach(cgroup.get(), obj.program(program))) {
                        link.pin(SockmapMaps.linkPin(folder, program));
                    }
                    done.add(program + " on cgroup " + cgroup.get(), () -> SockmapNode.unlink(SockmapMaps.linkPin(folder, program)));
                }
            }
        } catch (IOException | RuntimeException e) {
            done.rollBack(e, undone);
            Files.deleteIfExists(folder);
            try {
                node.removeIfUnused();
            } catch (IOException | RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** Over a complete install: the same programs stay, the maps get the policy's contents. */
    private void updateInPlace(NetNs pod, Path folder, SockmapMaps.Contents contents, ListenerSockets listeners)
            throws IOException {
        // an upgraded agent in another cgroup needs its own node links before it accepts anything
        node.ensure(agentCgroup.get());
        List<BpfMap> opened = new ArrayList<>();
        try {
            for (String name : SockmapMaps.POD_MAPS) {
                opened.add(BpfMap.openPinned(folder.resolve(name)));
            }
            Function<String, BpfMap> maps = name -> opened.get(SockmapMaps.POD_MAPS.indexOf(name));
            SockmapMaps.Config before = SockmapMaps.Config.parse(maps.apply(SockmapMaps.CONFIG).lookup(TcMaps.u32(0))
                    .orElseThrow(() -> new IOException(SockmapMaps.CONFIG + " of this pod is empty; remove the pod and add it again")));
            long cookie = listeners != null ? SocketOptions.netnsCookie(listeners.outboundFd()) : before.netnsCookie();
            writePodMaps(maps, contents, cookie, podAddresses());
            try (BpfMap listen = BpfMap.openPinned(node.mapPin(SockmapMaps.LISTEN))) {
                listen.update(SockmapMaps.listenKey(cookie, contents.outboundPort()), TcMaps.PRESENT, BpfMap.Update.ANY);
                if (before.outboundPort() != contents.outboundPort()) {
                    listen.delete(SockmapMaps.listenKey(before.netnsCookie(), before.outboundPort()));
                }
            }
        } finally {
            opened.forEach(BpfMap::close);
        }
    }

    /** The policy maps first, the config last: its new listener port takes effect with everything else ready. */
    private static void writePodMaps(Function<String, BpfMap> maps, SockmapMaps.Contents c, long cookie,
                                     List<Inet4Address> addresses) throws IOException {
        MapSync.replaceSet(maps.apply(SockmapMaps.EXCLUDE4), c.exclude().stream().map(TcMaps::lpmKey).toList());
        MapSync.replaceSet(maps.apply(SockmapMaps.INCLUDE4), c.include().stream().map(TcMaps::lpmKey).toList());
        MapSync.replaceSet(maps.apply(SockmapMaps.EXCLUDED_UIDS), c.excludedUids().stream().map(TcMaps::u32).toList());
        MapSync.replaceSet(maps.apply(SockmapMaps.EXCLUDED_GIDS), c.excludedGids().stream().map(TcMaps::u32).toList());
        MapSync.writeBitmap(maps.apply(SockmapMaps.EXCLUDED_PORTS), c.excludedPorts());
        MapSync.replaceSet(maps.apply(SockmapMaps.LOCAL4), addresses.stream().map(Inet4Address::getAddress).toList());
        int source = addresses.isEmpty() ? 0 : ByteBuffer.wrap(addresses.getFirst().getAddress()).getInt();
        maps.apply(SockmapMaps.CONFIG).update(TcMaps.u32(0), new SockmapMaps.Config(cookie, SockmapMaps.LOOPBACK, source,
                c.bypassMark(), c.outboundPort(), c.flags()).bytes(), BpfMap.Update.ANY);
    }

    /**
     * The cgroup links first (connect4/6 first of all: no new connection is diverted), then the
     * listener entry and the pod's maps, then the inbound half; the node half goes when no pod and
     * no connection needs it. Checks that nothing of the pod is left.
     */
    @Override
    public void remove(NetNs pod) throws HijackException {
        run(pod, "remove", () -> {
            Optional<Path> folder = existingPodFolder(pod);
            if (folder.isPresent()) {
                removePodPart(folder.get());
            }
            return null;
        }, e -> "whatever was not removed yet is still installed; run remove again");
        inbound.remove(pod);
        String kept = run(pod, "remove (node)", node::removeIfUnused, e -> "");
        List<String> remaining = run(pod, "remove (verify)",
                () -> state(existingPodFolder(pod).orElse(null)).parts(), e -> "");
        if (!remaining.isEmpty()) {
            throw new HijackException(technique(), "remove", pod.path(), String.join(", ", remaining)
                    + " still present after removal, so the pod's connections may still be diverted; check whether "
                    + "another process (a second agent?) manages this pod, then retry the remove", null);
        }
        if (!kept.isEmpty()) {
            System.getLogger(SockmapHijacker.class.getName()).log(System.Logger.Level.INFO, kept);
        }
    }

    /** sockmap owns no nft table: everything it installed for the pod goes, as in {@link #remove}. */
    @Override
    public void releaseAfterReplaced(NetNs pod) throws HijackException {
        remove(pod);
    }

    private void removePodPart(Path folder) throws IOException {
        for (String program : SockmapMaps.POD_PROGRAMS) {
            SockmapNode.unlink(SockmapMaps.linkPin(folder, program));
        }
        Path config = folder.resolve(SockmapMaps.CONFIG);
        if (Files.exists(config)) {
            try (BpfMap map = BpfMap.openPinned(config)) {
                Optional<byte[]> value = map.lookup(TcMaps.u32(0));
                if (value.isPresent()) {
                    SockmapMaps.Config cfg = SockmapMaps.Config.parse(value.get());
                    deleteListen(SockmapMaps.listenKey(cfg.netnsCookie(), cfg.outboundPort()));
                }
            }
        }
        unpinPodMaps(folder);
        Files.deleteIfExists(folder);
    }

    private void deleteListen(byte[] key) throws IOException {
        Path pin = node.mapPin(SockmapMaps.LISTEN);
        if (Files.exists(pin)) {
            try (BpfMap listen = BpfMap.openPinned(pin)) {
                listen.delete(key);
            }
        }
    }

    private static void unpinPodMaps(Path folder) throws IOException {
        for (String map : SockmapMaps.POD_MAPS) {
            Files.deleteIfExists(folder.resolve(map));
        }
    }

    /** The pod's links and maps, the node half, then the inbound half, as {@code shuntctl rules} shows them. */
    @Override
    public Optional<String> installed(NetNs pod) throws HijackException {
        Optional<String> own = run(pod, "read state", () -> {
            Path folder = existingPodFolder(pod).orElse(null);
            if (state(folder).parts().isEmpty()) {
                return Optional.<String>empty();
            }
            StringBuilder out = new StringBuilder();
            for (String program : SockmapMaps.POD_PROGRAMS) {
                Path pin = SockmapMaps.linkPin(folder, program);
                if (!Files.exists(pin)) {
                    out.append("cgroup link ").append(program).append(": missing\n");
                    continue;
                }
                try (CgroupAttachment link = CgroupAttachment.adopt(pin)) {
                    out.append("cgroup link id ").append(link.linkId()).append(": ").append(program)
                            .append(" (program id ").append(link.programId()).append(") on cgroup id ")
                            .append(link.cgroupId()).append('\n');
                }
            }
            out.append(describePodMaps(folder));
            out.append(node.describe());
            return Optional.of(out.toString());
        }, e -> "");
        Optional<String> in = inbound.installed(pod);
        if (own.isEmpty() && in.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(own.orElse("cgroup half: not installed\n") + in.map(t -> "inbound (tc):\n" + t).orElse(""));
    }

    /** Where the engine reports what it read from each accepted socket (the app -> proxy window). */
    public ConsumedBytes consumedBytes() {
        return new ConsumedBytes(node.mapPin(SockmapMaps.CONSUMED));
    }

    /** The node's counters (shunt_sm_stats), by label: the proof that bytes took the sk_msg path. */
    public Map<String, Long> nodeCounters() throws IOException {
        return node.counters();
    }

    private static String describePodMaps(Path folder) throws IOException {
        StringBuilder out = new StringBuilder("maps pinned in ").append(folder).append('\n');
        List<BpfMap> opened = new ArrayList<>();
        try {
            for (String name : SockmapMaps.POD_MAPS) {
                Path pin = folder.resolve(name);
                if (!Files.exists(pin)) {
                    return out.append("map ").append(name).append(": missing\n").toString();
                }
                opened.add(BpfMap.openPinned(pin));
            }
            Function<String, BpfMap> map = n -> opened.get(SockmapMaps.POD_MAPS.indexOf(n));
            SockmapMaps.Config cfg = SockmapMaps.Config.parse(map.apply(SockmapMaps.CONFIG).lookup(TcMaps.u32(0)).orElseThrow());
            SockmapMaps.Contents read = new SockmapMaps.Contents(cfg.bypassMark(), cfg.outboundPort(), cfg.flags(),
                    PolicyMaps.cidrs(map.apply(SockmapMaps.EXCLUDE4)), PolicyMaps.cidrs(map.apply(SockmapMaps.INCLUDE4)),
                    PolicyMaps.portBitmap(map.apply(SockmapMaps.EXCLUDED_PORTS)),
                    PolicyMaps.u32Set(map.apply(SockmapMaps.EXCLUDED_UIDS)),
                    PolicyMaps.u32Set(map.apply(SockmapMaps.EXCLUDED_GIDS)));
            out.append("netns cookie ").append(cfg.netnsCookie()).append(", source address ")
                    .append(cfg.sourceIp4() == 0 ? "(unchanged)" : SockmapMaps.dotted(cfg.sourceIp4())).append('\n');
            read.describe().forEach(line -> out.append("map ").append(line).append('\n'));
            List<String> local = PolicyMaps.addresses(map.apply(SockmapMaps.LOCAL4));
            out.append("map ").append(SockmapMaps.LOCAL4).append(": ").append(local.isEmpty() ? "(empty)" : String.join(", ", local))
                    .append('\n');
            return out.toString();
        } finally {
            opened.forEach(BpfMap::close);
        }
    }

    /** What of the pod's cgroup half is there, and whether that is all of it. */
    private record State(List<String> parts, boolean complete) {
    }

    private static State state(Path folder) throws IOException {
        List<String> parts = new ArrayList<>();
        if (folder == null) {
            return new State(parts, false);
        }
        boolean complete = true;
        for (String program : SockmapMaps.POD_PROGRAMS) {
            Path pin = SockmapMaps.linkPin(folder, program);
            if (Files.exists(pin)) {
                parts.add("cgroup link pinned at " + pin);
                try (CgroupAttachment link = CgroupAttachment.adopt(pin)) {
                    complete &= link.cgroupId() != 0; // 0: the pod's cgroup is gone
                }
            } else {
                complete = false;
            }
        }
        for (String map : SockmapMaps.POD_MAPS) {
            if (Files.exists(folder.resolve(map))) {
                parts.add("map pinned at " + folder.resolve(map));
            } else {
                complete = false;
            }
        }
        return new State(parts, complete);
    }

    private Path podFolder(NetNs pod, boolean create) throws IOException {
        if (create) {
            Files.createDirectories(bpffsRoot);
            Bpffs.ensureMounted(bpffsRoot);
        }
        return Bpffs.techniqueFolder(bpffsRoot, FOLDER).resolve(POD_FOLDER_PREFIX + pod.inode());
    }

    private Optional<Path> existingPodFolder(NetNs pod) throws IOException {
        Path folder = bpffsRoot.resolve("shunt").resolve(FOLDER).resolve(POD_FOLDER_PREFIX + pod.inode());
        return Files.isDirectory(folder) && Bpffs.isBpffs(folder) ? Optional.of(folder) : Optional.empty();
    }

    /** The calling thread's namespace's IPv4 addresses on interfaces other than lo, lowest index first. */
    private static List<Inet4Address> podAddresses() throws SocketException {
        List<NetworkInterface> interfaces = new ArrayList<>(Collections.list(NetworkInterface.getNetworkInterfaces()));
        interfaces.sort((a, b) -> Integer.compare(a.getIndex(), b.getIndex()));
        List<Inet4Address> out = new ArrayList<>();
        for (NetworkInterface ni : interfaces) {
            if (ni.isLoopback()) {
                continue;
            }
            ni.inetAddresses().forEach(a -> {
                if (a instanceof Inet4Address v4 && !out.contains(v4)) {
                    out.add(v4);
                }
            });
        }
        return out;
    }

    private <T> T run(NetNs pod, String operation, NetNs.NetNsAction<T, IOException> action,
                      Function<IOException, String> consequence) throws HijackException {
        return InstallSteps.inPod(technique(), pod, operation, action, consequence);
    }
}
