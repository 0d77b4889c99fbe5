package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Libc;
import io.shunt.ffi.libc.Mounts;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A program attached to a cgroup v2 group through a BPF link ({@code bpf_program__attach_cgroup},
 * BPF_LINK_CREATE): it acts on the sockets of every process in the group and its descendants. The
 * link's life rules are {@link BpfLink}'s: pin it to keep the attachment across restarts,
 * {@link #adopt} it after one, and remove it with {@code detach(); unpin(); close()}.
 *
 * <p>Attaching to the root of a cgroup hierarchy is refused: it would reach every process on the
 * host, and Shunt attaches only to groups it manages.
 */
public final class CgroupAttachment extends LinkAttachment {
    private CgroupAttachment(BpfLink link, String cgroup, BpfLink.Info info) {
        super(link, cgroup, info);
    }

    /**
     * Attaches {@code program} (a {@code cgroup/...} program; its section fixes the attach type)
     * to the cgroup v2 group at {@code cgroupDir}.
     *
     * @throws IllegalArgumentException when {@code cgroupDir} is not a cgroup v2 group, or is the root of one
     * @throws BpfException             when the kernel refuses, e.g. EINVAL for a program that is no cgroup program
     */
    public static CgroupAttachment attach(Path cgroupDir, BpfProgram program) throws IOException {
        requireManagedGroup(cgroupDir);
        int cgroupFd = Libc.open(cgroupDir.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        try {
            BpfLink owned = createLink("bpf_program__attach_cgroup", Libbpf.handles().attachCgroup(), program, cgroupFd,
                    cgroupDir, "cgroup");
            try {
                return new CgroupAttachment(owned, cgroupDir.toString(), owned.info());
            } catch (IOException | RuntimeException e) {
                owned.close();
                throw e;
            }
        } finally {
            // the link holds its own reference on the cgroup
            BpfFds.close(cgroupFd, "cgroup " + cgroupDir);
        }
    }

    /**
     * Takes over the cgroup link pinned at {@code pin}, e.g. one a previous agent left.
     *
     * @throws BpfException when nothing is pinned there or the pin holds no cgroup link
     */
    public static CgroupAttachment adopt(Path pin) throws IOException {
        BpfLink link = openPinned(pin, BpfLink.TYPE_CGROUP, "cgroup");
        try {
            BpfLink.Info info = link.info();
            return new CgroupAttachment(link, "cgroup id " + info.cgroupId(), info);
        } catch (IOException | RuntimeException e) {
            link.close();
            throw e;
        }
    }

    /** The cgroup's id, as the kernel reported it when attached or adopted (its inode number in cgroupfs). */
    public long cgroupId() {
        return info.cgroupId();
    }

    /** A cgroup v2 folder that is not the hierarchy's root (only the root lacks {@code cgroup.type}). */
    private static void requireManagedGroup(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("cgroup " + dir + " does not exist or is not a folder");
        }
        long type = Mounts.filesystemType(dir);
        if (type != Mounts.CGROUP2_SUPER_MAGIC) {
            throw new IllegalArgumentException(dir + " is not in a cgroup v2 hierarchy (filesystem type 0x"
                    + Long.toHexString(type) + "); pass a group under the cgroup2 mount (see /proc/self/mountinfo)");
        }
        if (!Files.exists(dir.resolve("cgroup.type"))) {
            throw new IllegalArgumentException("refusing to attach a BPF program to " + dir
                    + ", the root of a cgroup v2 hierarchy: it would act on every process of the host; "
                    + "attach to a group Shunt created below it");
        }
    }
}
