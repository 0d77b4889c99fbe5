package io.shunt.hijack.sockmap;

import io.shunt.ffi.bpf.BpfMap;
import io.shunt.ffi.bpf.BpfObject;
import io.shunt.ffi.bpf.CgroupAttachment;
import io.shunt.ffi.bpf.SkMsgAttachment;
import io.shunt.hijack.tc.TcHijacker;
import io.shunt.hijack.tc.TcMaps;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The node half of the sockmap technique, shared by every pod that uses it: the node-wide maps
 * pinned in {@code <bpffs>/shunt/sockmap/node/}, the sk_msg program attached to the sockhash, and
 * per agent cgroup ({@code agent-cgroup-<id>/}) the links of the two programs that act on the
 * proxy's accepted sockets. An upgraded agent runs in another cgroup (its new container) and gets
 * links of its own beside its predecessor's; links whose cgroup is gone are collected.
 *
 * <p>The sockhash is freed only when it is empty: freeing it would drop bytes already moved into
 * an app socket's queue and not read yet.
 */
final class SockmapNode {
    static final String AGENT_CGROUP_PREFIX = "agent-cgroup-";

    private final Path folder;
    private final TcHijacker.ObjectSource object;

    SockmapNode(Path folder, TcHijacker.ObjectSource object) {
        this.folder = folder;
        this.object = object;
    }

    Path folder() {
        return folder;
    }

    Path mapPin(String map) {
        return folder.resolve(map);
    }

    /** Everything the node half needs for an agent running in {@code agent}; what is there already stays. */
    void ensure(AgentCgroup agent) throws IOException {
        Path links = folder.resolve(AGENT_CGROUP_PREFIX + agent.id());
        boolean mapsPinned = SockmapMaps.NODE_MAPS.stream().allMatch(m -> Files.exists(mapPin(m)));
        boolean linked = true;
        for (String program : SockmapMaps.AGENT_CGROUP_PROGRAMS) {
            linked &= linkedTo(SockmapMaps.linkPin(links, program), agent.id());
        }
        if (mapsPinned && linked) {
            return;
        }
        Files.createDirectories(links);
        List<Path> pinnedNow = new ArrayList<>();
        try (BpfObject obj = object.open()) {
            for (String map : SockmapMaps.NODE_MAPS) {
                obj.pinMapOnLoad(map, mapPin(map));
            }
            obj.load();
            // replaces a predecessor's program, if the map had one: the same code either way
            SkMsgAttachment.attach(obj.program(SockmapMaps.MSG_PROGRAM), obj.map(SockmapMaps.PAIRS));
            for (String program : SockmapMaps.AGENT_CGROUP_PROGRAMS) {
                Path pin = SockmapMaps.linkPin(links, program);
                if (linkedTo(pin, agent.id())) {
                    continue;
                }
                Files.deleteIfExists(pin);
                try (CgroupAttachment link = CgroupAttachment.attach(agent.dir(), obj.program(program))) {
                    link.pin(pin);
                    pinnedNow.add(pin);
                }
            }
        } catch (IOException | RuntimeException e) {
            for (Path pin : pinnedNow) {
                try {
                    unlink(pin);
                } catch (IOException | RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        collectDeadAgents();
    }

    /**
     * Removes the node half when no pod uses it and no diverted connection is left in the
     * sockhash. Returns what was kept and why, or empty when nothing of it is left.
     */
    String removeIfUnused() throws IOException {
        if (!Files.isDirectory(folder)) {
            return "";
        }
        try (Stream<Path> siblings = Files.list(folder.getParent())) {
            if (siblings.anyMatch(p -> p.getFileName().toString().startsWith(SockmapHijacker.POD_FOLDER_PREFIX))) {
                return "node maps and programs kept: pods still use sockmap";
            }
        }
        int open = openConnections();
        if (open > 0) {
            return "node maps and programs kept: " + open + " socket(s) of diverted connections are still in "
                    + SockmapMaps.PAIRS + " (freeing it would drop bytes they have not read yet); they go with the "
                    + "next pod removal or agent stop after those connections end";
        }
        try (Stream<Path> entries = Files.list(folder)) {
            for (Path entry : entries.toList()) {
                if (Files.isDirectory(entry) && entry.getFileName().toString().startsWith(AGENT_CGROUP_PREFIX)) {
                    removeLinks(entry);
                }
            }
        }
        for (String map : SockmapMaps.NODE_MAPS) {
            Files.deleteIfExists(mapPin(map));
        }
        Files.deleteIfExists(folder);
        try (Stream<Path> left = Files.list(folder.getParent())) {
            if (left.findAny().isEmpty()) {
                Files.deleteIfExists(folder.getParent());
            }
        }
        return "";
    }

    /** Sockets in the sockhash: app and proxy ends of diverted connections still open. */
    int openConnections() throws IOException {
        Path pin = mapPin(SockmapMaps.PAIRS);
        if (!Files.exists(pin)) {
            return 0;
        }
        try (BpfMap pairs = BpfMap.openPinned(pin)) {
            return pairs.keys().size();
        }
    }

    /** The node counters, by label; empty when the node half is not installed. */
    Map<String, Long> counters() throws IOException {
        Map<String, Long> out = new LinkedHashMap<>();
        Path pin = mapPin(SockmapMaps.STATS);
        if (!Files.exists(pin)) {
            return out;
        }
        try (BpfMap stats = BpfMap.openPinned(pin)) {
            for (SockmapMaps.Counter c : SockmapMaps.Counter.values()) {
                out.put(c.label(), stats.lookup(TcMaps.u32(c.ordinal())).map(TcMaps::u64Of).orElse(0L));
            }
        }
        return out;
    }

    /** For {@code shuntctl rules}: the agent cgroup links, the sockhash's size and the counters. */
    String describe() throws IOException {
        if (!Files.isDirectory(folder)) {
            return "node: not installed\n";
        }
        StringBuilder out = new StringBuilder("node maps pinned in ").append(folder).append('\n');
        try (Stream<Path> entries = Files.list(folder)) {
            for (Path entry : entries.sorted().toList()) {
                if (!Files.isDirectory(entry) || !entry.getFileName().toString().startsWith(AGENT_CGROUP_PREFIX)) {
                    continue;
                }
                for (String program : SockmapMaps.AGENT_CGROUP_PROGRAMS) {
                    Path pin = SockmapMaps.linkPin(entry, program);
                    if (!Files.exists(pin)) {
                        out.append("agent cgroup link ").append(pin).append(": missing\n");
                        continue;
                    }
                    try (CgroupAttachment link = CgroupAttachment.adopt(pin)) {
                        out.append("agent cgroup link id ").append(link.linkId()).append(": ").append(program)
                                .append(" (program id ").append(link.programId()).append(") on cgroup id ")
                                .append(link.cgroupId()).append('\n');
                    }
                }
            }
        }
        out.append("map ").append(SockmapMaps.PAIRS).append(": ").append(openConnections()).append(" socket(s)\n");
        StringBuilder counters = new StringBuilder();
        counters().forEach((k, v) -> counters.append(counters.isEmpty() ? "" : ", ").append(k).append(' ').append(v));
        out.append("map ").append(SockmapMaps.STATS).append(": ").append(counters).append('\n');
        return out.toString();
    }

    /** Whether a link is pinned at {@code pin} and still attached to the cgroup {@code id}. */
    private static boolean linkedTo(Path pin, long id) throws IOException {
        if (!Files.exists(pin)) {
            return false;
        }
        try (CgroupAttachment link = CgroupAttachment.adopt(pin)) {
            return link.cgroupId() == id;
        }
    }

    /** Links of agents whose cgroup is gone (their container ended) read cgroup id 0: they go. */
    private void collectDeadAgents() throws IOException {
        try (Stream<Path> entries = Files.list(folder)) {
            for (Path entry : entries.toList()) {
                if (!Files.isDirectory(entry) || !entry.getFileName().toString().startsWith(AGENT_CGROUP_PREFIX)) {
                    continue;
                }
                boolean dead = true;
                for (String program : SockmapMaps.AGENT_CGROUP_PROGRAMS) {
                    Path pin = SockmapMaps.linkPin(entry, program);
                    if (Files.exists(pin)) {
                        try (CgroupAttachment link = CgroupAttachment.adopt(pin)) {
                            dead &= link.cgroupId() == 0;
                        }
                    }
                }
                if (dead) {
                    removeLinks(entry);
                }
            }
        }
    }

    private static void removeLinks(Path agentFolder) throws IOException {
        for (String program : SockmapMaps.AGENT_CGROUP_PROGRAMS) {
            unlink(SockmapMaps.linkPin(agentFolder, program));
        }
        Files.deleteIfExists(agentFolder);
    }

    static void unlink(Path pin) throws IOException {
        if (Files.exists(pin)) {
            try (CgroupAttachment link = CgroupAttachment.adopt(pin)) {
                link.detach();
                link.unpin();
            }
        }
    }
}
