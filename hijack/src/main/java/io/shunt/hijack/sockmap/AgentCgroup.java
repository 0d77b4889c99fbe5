package io.shunt.hijack.sockmap;

import io.shunt.hijack.probe.MountInfo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The cgroup v2 group this process (the agent) runs in. The proxy's accepted sockets belong to the
 * group of the listener that accepted them, which is this one, so the node programs that act on
 * them (registering them in the sockhash, answering SO_ORIGINAL_DST) attach here.
 *
 * @param dir the group's folder under the cgroup2 mount
 * @param id  its cgroup id (the folder's inode), as BPF link info reports it
 */
record AgentCgroup(Path dir, long id) {

    /** Reads {@code /proc/self/cgroup} (the "0::" line) and {@code /proc/self/mountinfo}. */
    static AgentCgroup ofThisProcess() throws IOException {
        String path = Files.readAllLines(Path.of("/proc/self/cgroup")).stream()
                .filter(l -> l.startsWith("0::")).map(l -> l.substring(3)).findFirst()
                .orElseThrow(() -> new IOException("this process is in no cgroup v2 group (/proc/self/cgroup has no "
                        + "'0::' line); the sockmap technique needs cgroup v2"));
        List<Path> mounts = MountInfo.cgroup2Mounts();
        if (mounts.isEmpty()) {
            throw new IOException("no cgroup2 filesystem is mounted (/proc/self/mountinfo); the sockmap technique needs one");
        }
        // A container may see two cgroup2 mounts: its own group (cgroup namespace) and the host's
        // hierarchy bound beside it. The path is relative to our namespace's root; only the true root of a
        // hierarchy lacks cgroup.type, and in a cgroup namespace "/" is the container's own group.
        Path dir = null;
        for (Path mount : mounts) {
            Path candidate = mount.resolve(path.substring(1));
            if (Files.exists(candidate.resolve("cgroup.type"))) {
                dir = candidate;
                break;
            }
        }
        if (dir == null) {
            throw new IOException("the agent runs in the root of the cgroup v2 hierarchy (" + mounts.getFirst().resolve(path.substring(1))
                    + "): the sockmap technique attaches programs to the agent's own group, and at the root they "
                    + "would see every socket of the node; run the agent in a group of its own (its container, a "
                    + "systemd service), or leave sockmap out of the ranking");
        }
        return new AgentCgroup(dir, (Long) Files.getAttribute(dir, "unix:ino"));
    }
}
