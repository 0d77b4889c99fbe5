package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.internal.LibcHandles;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A BPF link (libbpf's {@code struct bpf_link}): the kernel object that keeps one program attached
 * to one hook. Three ways to end it, on purpose distinct:
 * <ul>
 *   <li>{@link #close()} ({@code bpf_link__destroy}) releases this process's fd. An unpinned link
 *       detaches with its last fd; a pinned one stays attached, which is how an attachment
 *       survives an agent restart.</li>
 *   <li>{@link #detach()} ({@code BPF_LINK_DETACH}) detaches the program now, whoever else holds
 *       the link (pins, other processes); the link object lingers, defunct, until its last
 *       reference goes.</li>
 *   <li>{@link #unpin()} removes the pin; the link then lives only as long as open fds.</li>
 * </ul>
 * Full removal of a pinned attachment is therefore {@code detach(); unpin(); close()}. The
 * handle has one owner, closes idempotently and is unusable after close.
 */
public final class BpfLink implements AutoCloseable {
    /** BPF_LINK_TYPE_CGROUP (enum bpf_link_type). */
    public static final int TYPE_CGROUP = 3;

    /**
     * What the kernel says about a link ({@code struct bpf_link_info}).
     *
     * @param cgroupId   for a cgroup link, the cgroup's id (its inode number in cgroupfs); for a netns
     *                   link, the namespace's inode number (0 once the namespace is gone); else 0
     * @param attachType for a cgroup or netns link, the BPF_* attach type; else 0
     */
    public record Info(int id, int type, int programId, long cgroupId, int attachType) {
    }

    private final MemorySegment link;
    private final String what;
    private final Guard guard;
    private volatile Path pinPath;

    private BpfLink(MemorySegment link, String what, Path pinPath) {
        this.link = link;
        this.what = what;
        this.guard = new Guard("BPF link " + what);
        this.pinPath = pinPath;
    }

    /** Takes ownership of a link libbpf returned. */
    static BpfLink own(MemorySegment link, String what) {
        return new BpfLink(link, what, null);
    }

    /**
     * Opens the link pinned at {@code pin} ({@code bpf_link__open}), e.g. to adopt the attachments
     * an agent's predecessor left. The handle knows its pin, so {@link #unpin()} removes it.
     *
     * @throws BpfException ENOENT when nothing is pinned there, EINVAL when the pin is no link
     */
    public static BpfLink openPinned(Path pin) throws IOException {
        // bpf_link__open accepts any pinned BPF object; check the kind first so a pinned map is
        // never mistaken for a link.
        BpfFds.close(BpfFds.open(pin, BpfFds.LINK), "link pinned at " + pin);
        MemorySegment link;
        int errno;
        List<String> printed;
        try (Arena arena = Arena.ofConfined(); LibbpfLog.Capture capture = LibbpfLog.capture()) {
            MemorySegment state = LibcHandles.callState(arena);
            MemorySegment path = arena.allocateFrom(pin.toString());
            link = Libbpf.invokePointer("bpf_link__open",
                    () -> (MemorySegment) Libbpf.handles().linkOpen().invokeExact(state, path));
            errno = LibcHandles.errno(state);
            printed = capture.lines();
        }
        if (link.equals(MemorySegment.NULL)) {
            throw new BpfException("bpf_link__open(" + pin + ")", errno == 0 ? Errno.EINVAL : errno, printed, "", "");
        }
        return new BpfLink(link, "pinned at " + pin, pin);
    }

    /** The link's fd, owned by this handle. */
    public int fd() {
        return guard.use(this::rawFd);
    }

    public Info info() throws BpfException {
        return guard.use(() -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment info = BpfFds.info(arena, rawFd(), Libbpf.LINK_INFO, "link " + what);
                int type = info.get(JAVA_INT, offset("type"));
                boolean cgroup = type == TYPE_CGROUP;
                // the union's netns member is { __u32 netns_ino; __u32 attach_type; } where cgroup has cgroup_id
                boolean netns = type == NetnsAttachment.TYPE_NETNS;
                long union = offset("cgroup_id");
                return new Info(info.get(JAVA_INT, offset("id")), type, info.get(JAVA_INT, offset("prog_id")),
                        cgroup ? info.get(JAVA_LONG, union) : netns ? Integer.toUnsignedLong(info.get(JAVA_INT, union)) : 0,
                        cgroup ? info.get(JAVA_INT, offset("attach_type")) : netns ? info.get(JAVA_INT, union + 4) : 0);
            }
        });
    }

    /** Where the link is pinned, if this handle pinned it or was opened from a pin. */
    public Optional<Path> pinPath() {
        return Optional.ofNullable(pinPath);
    }

    /**
     * Pins the link at {@code pin} ({@code bpf_link__pin}), creating the folder if missing; the
     * folder must be on a bpffs. The pin keeps the program attached after this handle closes.
     */
    public void pin(Path pin) throws IOException {
        guard.use(() -> {
            Bpffs.preparePinFolder(pin, "link " + what);
            int rc;
            List<String> printed;
            try (Arena arena = Arena.ofConfined(); LibbpfLog.Capture capture = LibbpfLog.capture()) {
                MemorySegment path = arena.allocateFrom(pin.toAbsolutePath().toString());
                rc = Libbpf.invoke("bpf_link__pin", () -> (int) Libbpf.handles().linkPin().invokeExact(link, path));
                printed = capture.lines();
            }
            if (rc < 0) {
                throw new BpfException("bpf_link__pin(" + what + ", " + pin + ")", -rc, printed, "",
                        -rc == Errno.EEXIST ? "something is pinned there already; unpin it first or pick another path" : "");
            }
            pinPath = pin.toAbsolutePath();
            return null;
        });
    }

    /** Removes the pin ({@code bpf_link__unpin}); nothing happens when the link is not pinned. */
    public void unpin() throws BpfException {
        guard.use(() -> {
            if (pinPath == null) {
                return null;
            }
            int rc = Libbpf.invoke("bpf_link__unpin", () -> (int) Libbpf.handles().linkUnpin().invokeExact(link));
            if (rc < 0 && rc != -Errno.ENOENT) {
                throw new BpfException("bpf_link__unpin(" + what + ", " + pinPath + ")", -rc);
            }
            pinPath = null;
            return null;
        });
    }

    /**
     * Detaches the program now ({@code bpf_link__detach}, BPF_LINK_DETACH, kernel 5.9+), even
     * while the link is pinned or open elsewhere. The kernel accepts detaching a cgroup link twice.
     */
    public void detach() throws BpfException {
        guard.use(() -> {
            int rc = Libbpf.invoke("bpf_link__detach", () -> (int) Libbpf.handles().linkDetach().invokeExact(link));
            if (rc < 0) {
                throw new BpfException("bpf_link__detach(" + what + ")", -rc, List.of(), "",
                        -rc == Errno.EOPNOTSUPP || -rc == Errno.EINVAL ? "this kernel cannot detach this link type "
                                + "(BPF_LINK_DETACH needs 5.9); unpin and close it instead" : "");
            }
            return null;
        });
    }

    /**
     * Releases this handle ({@code bpf_link__destroy}). The program stays attached while a pin or
     * another fd holds the link; see the class comment.
     */
    @Override
    public void close() {
        guard.close(() -> Libbpf.invoke("bpf_link__destroy",
                () -> (int) Libbpf.handles().linkDestroy().invokeExact(link)));
    }

    @Override
    public String toString() {
        return "BPF link " + what;
    }

    private int rawFd() {
        return Libbpf.invoke("bpf_link__fd", () -> (int) Libbpf.handles().linkFd().invokeExact(link));
    }

    private static long offset(String field) {
        return Libbpf.LINK_INFO.byteOffset(groupElement(field));
    }
}
