package io.shunt.hijack.tc;

import io.shunt.ffi.bpf.BpfMap;
import io.shunt.ffi.bpf.BpfObject;
import io.shunt.ffi.bpf.Bpffs;
import io.shunt.ffi.bpf.NetnsAttachment;
import io.shunt.ffi.bpf.TcAttachment;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.HijackException;
import io.shunt.hijack.InstallSteps;
import io.shunt.hijack.Hijacker;
import io.shunt.hijack.ListenerSockets;
import io.shunt.hijack.RulePlan;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.nft.NftRuleset;
import io.shunt.ffi.nft.Nftables;
import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.tproxy.DivertRouting;
import io.shunt.hijack.tproxy.TproxySettings;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * The {@code tc} technique: eBPF instead of netfilter (docs/design.md, "The tc technique"). Per pod:
 * <ul>
 *   <li>the object {@code shunt_tc.bpf.o}, loaded once per pod, its maps pinned in
 *       {@code <bpffs>/shunt/tc/netns-<inode>/} so a restarted agent finds and updates them;</li>
 *   <li>{@code shunt_eth_egress} as a direct-action tc filter on the egress hook of every
 *       interface but {@code lo}: it hairpins the app's outbound SYNs (and the later packets of
 *       the flows the proxy holds) into {@code lo}, marked; and {@code shunt_eth_ingress} on the
 *       ingress hook, which only answers inbound SYNs with a RST while the proxy's inbound
 *       listener is gone (the egress program does the same for outbound SYNs);</li>
 *   <li>{@code shunt_sk_lookup} attached to the netns by a BPF link, pinned as {@link #LINK_PIN}:
 *       it hands those SYNs, and inbound SYNs, to the listener sockets in {@code shunt_listeners};</li>
 *   <li>a fwmark rule and a {@code local 0.0.0.0/0 dev lo} route (tc's own mark and table, see
 *       {@link #DEFAULT_ROUTING}), and {@code net.ipv4.conf.lo.accept_local=1}.</li>
 * </ul>
 *
 * <p>Install contract, as far as BPF allows: a fresh install is undone completely when any step
 * fails. An install over a complete one keeps the programs and attachments and rewrites the maps
 * in place, map by map: a connection that starts during that rewrite may see some maps old and
 * some new (each map's own update is atomic per key). An install over a partial one (an agent
 * that died mid-way) removes the partial state first, so if it then fails the pod is left with
 * nothing of tc instead of the fragment it had.
 *
 * <p>IPv4 only, like every technique: IPv6 packets pass the egress program untouched.
 */
public final class TcHijacker implements Hijacker {
    /** Mark 0x534a, table 21322, rule 101: not tproxy's, so a live move between the two never shares routing. */
    public static final TproxySettings DEFAULT_ROUTING = new TproxySettings(0x534a, 21322, 101);
    /** Where the agent pins when nothing else is configured. */
    public static final Path DEFAULT_BPFFS = Path.of("/run/shunt/bpf");
    /** System property and environment variable that choose the bpffs root (tests use a temporary one). */
    public static final String BPFFS_PROPERTY = "shunt.tc.bpffs";
    public static final String BPFFS_ENV = "SHUNT_TC_BPFFS";
    /** The egress filter's tc priority and handle: fixed, so a restarted agent finds it. */
    public static final int FILTER_PRIORITY = 21320;
    public static final int FILTER_HANDLE = 1;
    /** The sk_lookup link's pin, in the pod's folder. */
    public static final String LINK_PIN = "link_sk_lookup";
    /**
     * The two tc hooks on every interface but lo: egress diverts; ingress only answers inbound
     * SYNs with a RST while the proxy's inbound listener is gone (the agent died).
     */
    private record Hook(boolean ingress, String program) {
        String describe(String iface) {
            return "tc " + (ingress ? "ingress" : "egress") + " filter on " + iface;
        }
    }

    /**
     * What of tc's machinery an instance installs. {@code ALL} is the tc technique. {@code INBOUND}
     * is the inbound half the {@code sockmap} technique borrows (its outbound connections are
     * diverted by cgroup programs instead): the sk_lookup link and the ingress filter only, with
     * no egress hairpin, no routing and no sysctl, in its own pin folder and under its own filter
     * handle, so it can sit beside a full tc install during a live move between the two.
     */
    public enum Scope {
        ALL(TechniqueId.TC, "tc", FILTER_HANDLE, List.of(new Hook(false, TcMaps.EGRESS_PROGRAM),
                new Hook(true, TcMaps.INGRESS_PROGRAM))),
        INBOUND(TechniqueId.SOCKMAP, "sockmap-inbound", 2, List.of(new Hook(true, TcMaps.INGRESS_PROGRAM)));

        private final TechniqueId owner;
        private final String folder;
        private final int handle;
        private final List<Hook> hooks;

        Scope(TechniqueId owner, String folder, int handle, List<Hook> hooks) {
            this.owner = owner;
            this.folder = folder;
            this.handle = handle;
            this.hooks = hooks;
        }

        boolean outbound() {
            return this == ALL;
        }
    }

    private static final Path ACCEPT_LOCAL = Path.of("/proc/sys/net/ipv4/conf/lo/accept_local");

    private final Path bpffsRoot;
    private final TproxySettings routing;
    private final ObjectSource object;
    private final Scope scope;

    /** How the BPF object is opened: from the jar, or, for tests, from given bytes. */
    @FunctionalInterface
    public interface ObjectSource {
        BpfObject open() throws IOException;
    }

    /** With the bpffs root from {@link #BPFFS_PROPERTY} or {@link #BPFFS_ENV}, else {@link #DEFAULT_BPFFS}. */
    public TcHijacker() {
        this(configuredBpffs(), DEFAULT_ROUTING, () -> BpfObject.open(TcMaps.OBJECT));
    }

    public TcHijacker(Path bpffsRoot, TproxySettings routing, ObjectSource object) {
        this(bpffsRoot, routing, object, Scope.ALL);
    }

    private TcHijacker(Path bpffsRoot, TproxySettings routing, ObjectSource object, Scope scope) {
        this.bpffsRoot = Objects.requireNonNull(bpffsRoot, "bpffsRoot");
        this.routing = Objects.requireNonNull(routing, "routing");
        this.object = Objects.requireNonNull(object, "object");
        this.scope = Objects.requireNonNull(scope, "scope");
    }

    /** The inbound half only ({@link Scope#INBOUND}), for the sockmap technique. */
    public static TcHijacker inboundOnly(Path bpffsRoot, ObjectSource object) {
        return new TcHijacker(bpffsRoot, DEFAULT_ROUTING, object, Scope.INBOUND);
    }

    /** The object tc loads, from the jar. */
    public static BpfObject openObject() throws IOException {
        return BpfObject.open(TcMaps.OBJECT);
    }

    public static Path configuredBpffs() {
        String configured = System.getProperty(BPFFS_PROPERTY);
        if (configured == null || configured.isBlank()) {
            configured = System.getenv(BPFFS_ENV);
        }
        return configured == null || configured.isBlank() ? DEFAULT_BPFFS : Path.of(configured);
    }

    public Path bpffsRoot() {
        return bpffsRoot;
    }

    @Override
    public TechniqueId technique() {
        return scope.owner;
    }

    /**
     * The nft part of {@link #tcPlan}: removal of Shunt's shared table (see {@link TcPlan}).
     *
     * @throws IllegalArgumentException for a policy tc cannot carry out (a gid owner exclusion)
     */
    @Override
    public RulePlan plan(CapturePolicy policy) {
        return tcPlan(policy).nft();
    }

    public TcPlan tcPlan(CapturePolicy policy) {
        return new TcPlan(new RulePlan(scope.owner, policy, NftRuleset.removeScript(), NftRuleset.removeScript()),
                routing, TcMaps.contents(policy, routing));
    }

    /**
     * Without the listener sockets: works only over a complete earlier install, whose
     * {@code shunt_listeners} map still holds them.
     */
    @Override
    public void install(NetNs pod, CapturePolicy policy) throws HijackException {
        install(pod, policy, null);
    }

    @Override
    public void install(NetNs pod, CapturePolicy policy, ListenerSockets listeners) throws HijackException {
        TcPlan plan = tcPlan(policy);
        List<String> undone = new ArrayList<>();
        run(pod, "install", () -> {
            Path folder = podFolder(pod, true);
            List<Interface> interfaces = interfaces();
            State state = state(pod, folder, interfaces);
            if (state.complete()) {
                updateInPlace(folder, plan, interfaces, listeners);
            } else {
                if (!state.parts().isEmpty()) {
                    removeHere(pod, folder);
                }
                fresh(pod, folder, plan, interfaces, listeners, undone);
            }
            return null;
        }, e -> undone.isEmpty() ? "" : "what this install had done was taken out again: " + String.join(", ", undone));
    }

    /** Loads the object, fills the maps, then routing, sysctl, filters and the link; any failure undoes all of it. */
    private void fresh(NetNs pod, Path folder, TcPlan plan, List<Interface> interfaces, ListenerSockets listeners,
                       List<String> undone) throws IOException {
        if (listeners == null) {
            throw new IOException("nothing of tc is installed in this pod yet, and no listener sockets were given: the "
                    + "tc technique assigns connections to the proxy's listener sockets themselves; install through "
                    + "the agent, which passes them");
        }
        InstallSteps done = new InstallSteps();
        try (BpfObject obj = object.open()) {
            for (String map : TcMaps.ALL) {
                obj.pinMapOnLoad(map, folder.resolve(map));
            }
            done.add("map pins in " + folder, () -> unpinAll(folder));
            obj.load();
            int before = readAcceptLocal();
            java.util.Map<String, BpfMap> maps = new java.util.HashMap<>();
            for (String map : TcMaps.ALL) {
                maps.put(map, obj.map(map));
            }
            writeMaps(maps::get, plan, interfaces, listeners, before);
            if (scope.outbound()) {
                List<DivertRouting.Added> added = new ArrayList<>();
                try {
                    DivertRouting.ensure(plan.routing(), added);
                } finally {
                    for (DivertRouting.Added a : added) {
                        done.add(a.what(), a.undo()::run);
                    }
                }
                writeAcceptLocal(1);
                done.add("sysctl net.ipv4.conf.lo.accept_local=" + before, () -> writeAcceptLocal(before));
            }
            for (Interface i : interfaces) {
                for (Hook hook : scope.hooks) {
                    TcAttachment filter = TcAttachment.attach(i.index(), hook.ingress(), obj.program(hook.program()),
                            FILTER_PRIORITY, scope.handle);
                    done.add(hook.describe(i.name()), filter::detach);
                }
            }
            try (NetnsAttachment link = NetnsAttachment.attach(pod.path(), obj.program(TcMaps.SK_LOOKUP_PROGRAM))) {
                link.pin(folder.resolve(LINK_PIN));
                done.add("sk_lookup link", () -> removeLink(folder));
            }
            // last: the pod's traffic is diverted by tc now, so another technique's table can go
            removeSharedNftTable();
        } catch (IOException | RuntimeException e) {
            done.rollBack(e, undone);
            throw e;
        }
    }

    /** Over a complete install: the same programs stay, the maps get the policy's contents. */
    private void updateInPlace(Path folder, TcPlan plan, List<Interface> interfaces, ListenerSockets listeners)
            throws IOException {
        List<BpfMap> opened = new ArrayList<>();
        try {
            for (String name : TcMaps.ALL) {
                opened.add(BpfMap.openPinned(folder.resolve(name)));
            }
            int before = TcMaps.Config.parse(opened.get(TcMaps.ALL.indexOf(TcMaps.CONFIG)).lookup(TcMaps.u32(0))
                    .orElseThrow()).acceptLocalBefore();
            if (listeners == null) {
                BpfMap sockets = opened.get(TcMaps.ALL.indexOf(TcMaps.LISTENERS));
                if (sockets.lookup(TcMaps.u32(TcMaps.LISTENER_OUT)).isEmpty()) {
                    throw new IOException("the pod's " + TcMaps.LISTENERS + " map has no outbound listener and no "
                            + "listener sockets were given; install through the agent, which passes them");
                }
            }
            writeMaps(name -> opened.get(TcMaps.ALL.indexOf(name)), plan, interfaces, listeners, before);
            if (scope.outbound()) {
                DivertRouting.ensure(plan.routing(), new ArrayList<>());
                writeAcceptLocal(1);
            }
            removeSharedNftTable();
        } finally {
            opened.forEach(BpfMap::close);
        }
    }

    private static void writeMaps(Function<String, BpfMap> maps, TcPlan plan, List<Interface> interfaces,
                                  ListenerSockets listeners, int acceptLocalBefore) throws IOException {
        TcMaps.Contents c = plan.maps();
        int lo = loIndex();
        BpfMap.Update any = BpfMap.Update.ANY;
        maps.apply(TcMaps.CONFIG).update(TcMaps.u32(0), TcMaps.config(lo, c, acceptLocalBefore), any);
        MapSync.replaceSet(maps.apply(TcMaps.EXCLUDE4), c.exclude().stream().map(TcMaps::lpmKey).toList());
        MapSync.replaceSet(maps.apply(TcMaps.INCLUDE4), c.include().stream().map(TcMaps::lpmKey).toList());
        MapSync.replaceSet(maps.apply(TcMaps.EXCLUDED_UIDS), c.excludedUids().stream().map(TcMaps::u32).toList());
        List<byte[]> addresses = new ArrayList<>();
        for (Interface i : interfaces) {
            i.addresses().forEach(a -> addresses.add(a.getAddress()));
        }
        MapSync.replaceSet(maps.apply(TcMaps.LOCAL4), addresses);
        MapSync.writeBitmap(maps.apply(TcMaps.EXCLUDED_OUT_PORTS), c.excludedOutPorts());
        MapSync.writeBitmap(maps.apply(TcMaps.EXCLUDED_IN_PORTS), c.excludedInPorts());
        if (listeners != null) {
            BpfMap sockets = maps.apply(TcMaps.LISTENERS);
            // replaces a predecessor's sockets (an upgraded agent's listeners); a closed socket leaves the map by itself
            sockets.update(TcMaps.LISTENER_OUT, listeners.outboundFd());
            if (listeners.inboundFd() >= 0) {
                sockets.update(TcMaps.LISTENER_IN, listeners.inboundFd());
            } else {
                sockets.delete(TcMaps.u32(TcMaps.LISTENER_IN));
            }
        }
    }

    /**
     * Detaches the egress filters first (no new SYN is hairpinned), then the sk_lookup link, then
     * the routing; restores the sysctl, unpins the maps, and checks that nothing is left.
     */
    @Override
    public void remove(NetNs pod) throws HijackException {
        run(pod, "remove", () -> {
            Optional<Path> folder = existingPodFolder(pod);
            List<Interface> interfaces = interfaces();
            if (folder.isPresent()) {
                removeHere(pod, folder.get());
            } else {
                // no pins: filters or routing of a namespace whose folder was lost still go
                detachFilters(interfaces);
                if (scope.outbound()) {
                    DivertRouting.remove(routing);
                }
            }
            return null;
        }, e -> "whatever was not removed yet is still installed; run remove again");
        List<String> remaining = run(pod, "remove (verify)",
                () -> state(pod, existingPodFolder(pod).orElse(null), interfaces()).parts(), e -> "");
        if (!remaining.isEmpty()) {
            throw new HijackException(technique(), "remove", pod.path(), String.join(", ", remaining)
                    + " still present after removal, so the pod's traffic may still be diverted; check whether another "
                    + "process (a second agent?) manages this pod, then retry the remove", null);
        }
    }

    /** tc owns no nft table: everything it installed goes, as in {@link #remove}. */
    @Override
    public void releaseAfterReplaced(NetNs pod) throws HijackException {
        remove(pod);
    }

    private void removeHere(NetNs pod, Path folder) throws IOException {
        detachFilters(interfaces());
        removeLink(folder);
        if (scope.outbound()) {
            DivertRouting.remove(routing);
        }
        Path config = folder.resolve(TcMaps.CONFIG);
        if (scope.outbound() && Files.exists(config)) {
            try (BpfMap map = BpfMap.openPinned(config)) {
                Optional<byte[]> value = map.lookup(TcMaps.u32(0));
                if (value.isPresent()) {
                    writeAcceptLocal(TcMaps.Config.parse(value.get()).acceptLocalBefore());
                }
            }
        }
        unpinAll(folder);
    }

    /** Egress first: from then on no new SYN is hairpinned. */
    private void detachFilters(List<Interface> interfaces) throws IOException {
        for (Interface i : interfaces) {
            for (Hook hook : scope.hooks) {
                Optional<TcAttachment> f = TcAttachment.find(i.index(), hook.ingress(), FILTER_PRIORITY, scope.handle);
                if (f.isPresent()) {
                    f.get().detach();
                }
            }
        }
    }

    private static void removeLink(Path folder) throws IOException {
        Path pin = folder.resolve(LINK_PIN);
        if (Files.exists(pin)) {
            try (NetnsAttachment link = NetnsAttachment.adopt(pin)) {
                link.detach();
                link.unpin();
            }
        }
    }

    private static void unpinAll(Path folder) throws IOException {
        for (String map : TcMaps.ALL) {
            Files.deleteIfExists(folder.resolve(map));
        }
        Files.deleteIfExists(folder.resolve(LINK_PIN));
        Files.deleteIfExists(folder);
    }

    /**
     * The filters (interface, program id), the link, the maps' contents, the routing and the
     * sysctl, as {@code shuntctl rules} shows them; empty when nothing of tc is in the pod.
     */
    @Override
    public Optional<String> installed(NetNs pod) throws HijackException {
        return run(pod, "read state", () -> {
            Path folder = existingPodFolder(pod).orElse(null);
            List<Interface> interfaces = interfaces();
            if (state(pod, folder, interfaces).parts().isEmpty()) {
                return Optional.<String>empty();
            }
            StringBuilder out = new StringBuilder();
            for (Interface i : interfaces) {
                for (Hook hook : scope.hooks) {
                    Optional<TcAttachment> f = TcAttachment.find(i.index(), hook.ingress(), FILTER_PRIORITY, scope.handle);
                    out.append("tc filter ").append(i.name()).append(hook.ingress() ? " ingress" : " egress")
                            .append(" pref ").append(FILTER_PRIORITY).append(" handle 0x")
                            .append(Integer.toHexString(scope.handle)).append(": ")
                            .append(f.map(a -> hook.program() + " (program id " + a.programId() + ")").orElse("missing"))
                            .append('\n');
                }
            }
            if (folder != null) {
                Path pin = folder.resolve(LINK_PIN);
                if (Files.exists(pin)) {
                    try (NetnsAttachment link = NetnsAttachment.adopt(pin)) {
                        out.append("sk_lookup link id ").append(link.linkId()).append(": ").append(TcMaps.SK_LOOKUP_PROGRAM)
                                .append(" (program id ").append(link.programId()).append("), pinned at ").append(pin)
                                .append('\n');
                    }
                } else {
                    out.append("sk_lookup link: missing\n");
                }
                out.append(describeMaps(folder));
            }
            if (scope.outbound()) {
                out.append(DivertRouting.render(routing));
                out.append("sysctl net.ipv4.conf.lo.accept_local = ").append(readAcceptLocal()).append('\n');
            }
            return Optional.of(out.toString());
        }, e -> "");
    }

    private static String describeMaps(Path folder) throws IOException {
        StringBuilder out = new StringBuilder();
        List<BpfMap> opened = new ArrayList<>();
        try {
            for (String name : TcMaps.ALL) {
                Path pin = folder.resolve(name);
                if (!Files.exists(pin)) {
                    out.append("map ").append(name).append(": missing\n");
                    return out.toString();
                }
                opened.add(BpfMap.openPinned(pin));
            }
            Function<String, BpfMap> map = n -> opened.get(TcMaps.ALL.indexOf(n));
            TcMaps.Config cfg = TcMaps.Config.parse(map.apply(TcMaps.CONFIG).lookup(TcMaps.u32(0)).orElseThrow());
            TcMaps.Contents read = new TcMaps.Contents(cfg.bypassMark(), cfg.divertMark(), cfg.outboundPort(),
                    cfg.inboundPort(), cfg.flags(), PolicyMaps.cidrs(map.apply(TcMaps.EXCLUDE4)),
                    PolicyMaps.cidrs(map.apply(TcMaps.INCLUDE4)), PolicyMaps.portBitmap(map.apply(TcMaps.EXCLUDED_OUT_PORTS)),
                    PolicyMaps.portBitmap(map.apply(TcMaps.EXCLUDED_IN_PORTS)), PolicyMaps.u32Set(map.apply(TcMaps.EXCLUDED_UIDS)));
            out.append("maps pinned in ").append(folder).append(" (lo ifindex ").append(cfg.loIfindex()).append(")\n");
            read.describe().forEach(line -> out.append("map ").append(line).append('\n'));
            List<String> local = PolicyMaps.addresses(map.apply(TcMaps.LOCAL4));
            out.append("map ").append(TcMaps.LOCAL4).append(": ").append(local.isEmpty() ? "(empty)" : String.join(", ", local))
                    .append('\n');
            BpfMap sockets = map.apply(TcMaps.LISTENERS);
            out.append("map ").append(TcMaps.LISTENERS).append(": outbound ")
                    .append(sockets.lookup(TcMaps.u32(TcMaps.LISTENER_OUT)).map(v -> "socket cookie " + TcMaps.u64Of(v)).orElse("(none)"))
                    .append(", inbound ")
                    .append(sockets.lookup(TcMaps.u32(TcMaps.LISTENER_IN)).map(v -> "socket cookie " + TcMaps.u64Of(v)).orElse("(none)"))
                    .append('\n');
            return out.toString();
        } finally {
            opened.forEach(BpfMap::close);
        }
    }

    /** What of tc is in the namespace (called inside it), and whether that is all of it. */
    private record State(List<String> parts, boolean complete) {
    }

    private State state(NetNs pod, Path folder, List<Interface> interfaces) throws IOException {
        List<String> parts = new ArrayList<>();
        boolean complete = folder != null;
        for (Interface i : interfaces) {
            for (Hook hook : scope.hooks) {
                if (TcAttachment.find(i.index(), hook.ingress(), FILTER_PRIORITY, scope.handle).isPresent()) {
                    parts.add(hook.describe(i.name()));
                } else {
                    complete = false;
                }
            }
        }
        if (folder != null) {
            Path pin = folder.resolve(LINK_PIN);
            if (Files.exists(pin)) {
                parts.add("sk_lookup link pinned at " + pin);
                try (NetnsAttachment link = NetnsAttachment.adopt(pin)) {
                    // a link whose namespace died (and whose inode this pod reuses) reads 0
                    complete &= link.link().info().cgroupId() == pod.inode();
                }
            } else {
                complete = false;
            }
            for (String map : TcMaps.ALL) {
                if (Files.exists(folder.resolve(map))) {
                    parts.add("map pinned at " + folder.resolve(map));
                } else {
                    complete = false;
                }
            }
        }
        if (scope.outbound()) {
            List<String> routingParts = DivertRouting.present(routing);
            parts.addAll(routingParts);
            complete &= routingParts.size() == 2;
        }
        return new State(parts, complete);
    }

    /** The pod's pin folder, {@code <bpffs>/shunt/tc/netns-<inode>}, mounting the bpffs first if asked. */
    private Path podFolder(NetNs pod, boolean create) throws IOException {
        if (create) {
            Files.createDirectories(bpffsRoot);
            Bpffs.ensureMounted(bpffsRoot);
        }
        return Bpffs.techniqueFolder(bpffsRoot, scope.folder).resolve("netns-" + pod.inode());
    }

    private Optional<Path> existingPodFolder(NetNs pod) throws IOException {
        Path folder = bpffsRoot.resolve("shunt").resolve(scope.folder).resolve("netns-" + pod.inode());
        return Files.isDirectory(folder) && Bpffs.isBpffs(folder) ? Optional.of(folder) : Optional.empty();
    }

    /** An interface of the pod other than lo, with its IPv4 addresses. */
    private record Interface(String name, int index, List<Inet4Address> addresses) {
    }

    /** The calling thread's namespace's interfaces but lo (NetworkInterface asks the kernel through a socket made here). */
    private static List<Interface> interfaces() throws SocketException {
        List<Interface> out = new ArrayList<>();
        Set<Integer> seen = new HashSet<>();
        for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (ni.isLoopback() || ni.getParent() != null || !seen.add(ni.getIndex())) {
                continue;
            }
            out.add(new Interface(ni.getName(), ni.getIndex(), ni.inetAddresses()
                    .flatMap(a -> a instanceof Inet4Address v4 ? Stream.of(v4) : Stream.empty()).toList()));
        }
        out.sort((a, b) -> Integer.compare(a.index(), b.index()));
        return out;
    }

    /**
     * Installing a technique replaces the one before it (a live move); the nftables techniques do
     * that by replacing Shunt's table, tc by deleting it. A host without libnftables has no such
     * table to delete, and tc needs none.
     */
    private static void removeSharedNftTable() throws IOException {
        try {
            Nftables.run(NftRuleset.removeScript());
        } catch (UnsatisfiedLinkError noLibnftables) {
            // nothing of nftables can be installed here either
        }
    }

    private static int loIndex() throws IOException {
        NetworkInterface lo = NetworkInterface.getByName("lo");
        if (lo == null) {
            throw new IOException("the pod's network namespace has no 'lo' interface; the tc technique redirects "
                    + "diverted packets into it");
        }
        return lo.getIndex();
    }

    private static int readAcceptLocal() throws IOException {
        return Integer.parseInt(Files.readString(ACCEPT_LOCAL).strip());
    }

    /** /proc/sys/net shows the namespace of the thread that opens it: this writes the pod's lo setting. */
    private static void writeAcceptLocal(int value) throws IOException {
        Files.writeString(ACCEPT_LOCAL, Integer.toString(value));
    }

    private <T> T run(NetNs pod, String operation, NetNs.NetNsAction<T, IOException> action,
                      Function<IOException, String> consequence) throws HijackException {
        return InstallSteps.inPod(technique(), pod, operation, action, consequence);
    }
}
