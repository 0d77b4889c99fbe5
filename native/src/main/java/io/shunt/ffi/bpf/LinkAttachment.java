package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.internal.LibcHandles;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A program attached through a BPF link to a kernel object an fd names (a cgroup, a network
 * namespace). The life rules are {@link BpfLink}'s: pin the link to keep the attachment across
 * agent restarts, adopt it after one, remove it with {@code detach(); unpin(); close()}.
 */
public abstract sealed class LinkAttachment implements AutoCloseable permits CgroupAttachment, NetnsAttachment {
    private final BpfLink link;
    private final String target;
    final BpfLink.Info info;

    LinkAttachment(BpfLink link, String target, BpfLink.Info info) {
        this.link = link;
        this.target = target;
        this.info = info;
    }

    /**
     * Calls the libbpf attach function {@code attach} ({@code bpf_program__attach_*(prog, fd)}) and
     * owns the link it returns.
     *
     * @param function the function's name, for messages
     * @param path     the path {@code targetFd} was opened from, for messages
     * @param kind     what it is, for the link's description, e.g. {@code cgroup}
     */
    static BpfLink createLink(String function, MethodHandle attach, BpfProgram program, int targetFd, Path path,
                              String kind) throws IOException {
        MemorySegment created = program.use(() -> {
            MemorySegment result;
            int errno;
            List<String> printed;
            try (Arena arena = Arena.ofConfined(); LibbpfLog.Capture capture = LibbpfLog.capture()) {
                MemorySegment state = LibcHandles.callState(arena);
                result = Libbpf.invokePointer(function, () -> (MemorySegment) attach.invokeExact(state,
                        program.pointer(), targetFd));
                errno = LibcHandles.errno(state);
                printed = capture.lines();
            }
            if (result.equals(MemorySegment.NULL)) {
                throw new BpfException(function + "(" + program + ", " + path + ")",
                        errno == 0 ? Errno.EINVAL : errno, printed, "", "");
            }
            return result;
        });
        return BpfLink.own(created, program.name() + " on " + kind + " " + path);
    }

    /**
     * Opens the link pinned at {@code pin} and checks its type.
     *
     * @param kind the expected kind, for messages, e.g. {@code cgroup}
     */
    static BpfLink openPinned(Path pin, int type, String kind) throws IOException {
        BpfLink link = BpfLink.openPinned(pin);
        try {
            int found = link.info().type();
            if (found != type) {
                throw new BpfException("adopt " + kind + " link pinned at " + pin, Errno.EINVAL, List.of(), "",
                        "the pin holds a link of type " + found + ", not a " + kind + " link (type " + type + ")");
            }
            return link;
        } catch (IOException | RuntimeException e) {
            link.close();
            throw e;
        }
    }

    public BpfLink link() {
        return link;
    }

    /** The link's id, as {@code bpftool link show id N} takes it. */
    public int linkId() {
        return info.id();
    }

    /** The attached program's id, as the kernel reported it when attached or adopted. */
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
        return "program id " + info.programId() + " on " + target + " (link id " + info.id() + ")";
    }
}
