package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.Libc;
import io.shunt.ffi.libc.Mounts;
import io.shunt.ffi.libc.internal.LibcHandles;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A program attached to a cgroup v2 group through a BPF link ({@code bpf_program__attach_cgroup},
 * BPF_LINK_CREATE): it acts on the sockets of every process in the group and its descendants. The
 * link's life rules are {@link BpfLink}'s: pin it to keep the attachment across restarts,
 * {@link #adopt} it after one, and remove it with {@code detach(); unpin(); close()}.
 *
 * <p>Attaching to the root of a cgroup hierarchy is refused: it would reach every process on the
 * host, and Shunt attaches only to groups it manages.
 */
public final class CgroupAttachment implements AutoCloseable {
    private final BpfLink link;
    private final String cgroup;
    private final BpfLink.Info info;

    private CgroupAttachment(BpfLink link, String cgroup, BpfLink.Info info) {
        this.link = link;
        this.cgroup = cgroup;
        this.info = info;
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
            String what = program.name() + " on cgroup " + cgroupDir;
            MemorySegment link = program.use(() -> {
                MemorySegment created;
                int errno;
                List<String> printed;
                try (Arena arena = Arena.ofConfined(); LibbpfLog.Capture capture = LibbpfLog.capture()) {
                    MemorySegment state = LibcHandles.callState(arena);
                    created = Libbpf.invokePointer("bpf_program__attach_cgroup", () -> (MemorySegment) Libbpf.handles()
                            .attachCgroup().invokeExact(state, program.pointer(), cgroupFd));
                    errno = LibcHandles.errno(state);
                    printed = capture.lines();
                }
                if (created.equals(MemorySegment.NULL)) {
                    throw new BpfException("bpf_program__attach_cgroup(" + program + ", " + cgroupDir + ")",
                            errno == 0 ? Errno.EINVAL : errno, printed, "", "");
                }
                return created;
            });
            BpfLink owned = BpfLink.own(link, what);
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
        BpfLink link = BpfLink.openPinned(pin);
        try {
            BpfLink.Info info = link.info();
            if (info.type() != BpfLink.TYPE_CGROUP) {
                throw new BpfException("adopt cgroup link pinned at " + pin, Errno.EINVAL, List.of(), "",
                        "the pin holds a link of type " + info.type() + ", not a cgroup link (type " + BpfLink.TYPE_CGROUP + ")");
            }
            return new CgroupAttachment(link, "cgroup id " + info.cgroupId(), info);
        } catch (IOException | RuntimeException e) {
            link.close();
            throw e;
        }
    }

    public BpfLink link() {
        return link;
    }

    /** The cgroup's id, as the kernel reported it when attached or adopted (its inode number in cgroupfs). */
    public long cgroupId() {
        return info.cgroupId();
    }

    /** The attached program's id. */
    public int programId() {
        return info.programId();
    }

    public void pin(Path pin) throws IOException {
        link.pin(pin);
    }

    public Optional<Path> pinPath() {
        return link.pinPath();
    }

    public void unpin() throws BpfException {
        link.unpin();
    }

    /** Detaches the program now, pinned or not; see {@link BpfLink#detach()}. */
    public void detach() throws BpfException {
        link.detach();
    }

    /** Releases this handle; a pinned attachment stays. See {@link BpfLink#close()}. */
    @Override
    public void close() {
        link.close();
    }

    @Override
    public String toString() {
        return "program id " + info.programId() + " on " + cgroup + " (link id " + info.id() + ")";
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
