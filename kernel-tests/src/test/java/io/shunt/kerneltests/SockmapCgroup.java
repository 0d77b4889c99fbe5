package io.shunt.kerneltests;

import io.shunt.hijack.TechniqueId;
import io.shunt.testbed.ScratchCgroup;
import io.shunt.testbed.Topology;

import java.io.IOException;
import java.util.stream.Collectors;

/**
 * For a test of the sockmap technique, whose programs attach to cgroups: a group of the test's
 * own that this JVM (the pods' clients) and the agents it starts run in, given to the agent as the
 * pods' group. For any other technique it does nothing, so a test can use it unconditionally.
 */
final class SockmapCgroup implements AutoCloseable {
    private final ScratchCgroup cgroup;
    private final AutoCloseable entered;

    private SockmapCgroup(ScratchCgroup cgroup, AutoCloseable entered) {
        this.cgroup = cgroup;
        this.entered = entered;
    }

    static SockmapCgroup enterIfNeeded(TechniqueId technique) throws IOException {
        if (technique != TechniqueId.SOCKMAP) {
            return new SockmapCgroup(null, null);
        }
        ScratchCgroup cgroup = ScratchCgroup.create("shunt-kt");
        try {
            return new SockmapCgroup(cgroup, cgroup.enter());
        } catch (IOException | RuntimeException e) {
            cgroup.close();
            throw e;
        }
    }

    /** What to append to a {@code --pod NAME=NETNS} argument: {@code ,cgroup=DIR}, or nothing. */
    String podSuffix() {
        return cgroup == null ? "" : ",cgroup=" + cgroup.dir();
    }

    /** Shunt's programs on the group, one per line without their ids; empty for other techniques. */
    String programs() throws IOException {
        if (cgroup == null) {
            return "";
        }
        return Topology.execHere("bpftool", "cgroup", "show", cgroup.dir().toString()).lines()
                .filter(l -> l.contains("shunt_")).map(l -> l.strip().replaceFirst("^\\d+\\s+", "")).sorted()
                .collect(Collectors.joining("\n"));
    }

    /** Moves this JVM back and removes the group; the agents started in it must have ended. */
    @Override
    public void close() throws Exception {
        if (cgroup != null) {
            try {
                entered.close();
            } finally {
                cgroup.close();
            }
        }
    }
}
