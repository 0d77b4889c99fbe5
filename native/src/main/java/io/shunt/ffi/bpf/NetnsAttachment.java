package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.Libc;
import io.shunt.ffi.libc.internal.LibcHandles;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A program attached to a network namespace through a BPF link ({@code bpf_program__attach_netns},
 * BPF_LINK_CREATE): an {@code sk_lookup} program (or a flow dissector) that acts on every socket
 * lookup in that namespace. The life rules are {@link BpfLink}'s: pin the link to keep the
 * attachment across agent restarts, {@link #adopt} it after one, remove it with
 * {@code detach(); unpin(); close()}. The link holds a reference on the namespace only while it is
 * attached; when the namespace goes, the kernel detaches the link and it turns defunct.
 */
public final class NetnsAttachment implements AutoCloseable {
    /** BPF_LINK_TYPE_NETNS (enum bpf_link_type). */
    public static final int TYPE_NETNS = 5;

    private final BpfLink link;
    private final String netns;
    private final BpfLink.Info info;

    private NetnsAttachment(BpfLink link, String netns, BpfLink.Info info) {
        this.link = link;
        this.netns = netns;
        this.info = info;
    }

    /**
     * Attaches {@code program} to the network namespace at {@code netnsPath} (e.g.
     * {@code /var/run/netns/NAME} or {@code /proc/PID/ns/net}); the calling thread's namespace
     * does not matter.
     *
     * @throws BpfException when the kernel refuses, e.g. EINVAL for a program that is no netns program
     *                      or a namespace that has a non-link attachment of the same type
     */
    public static NetnsAttachment attach(Path netnsPath, BpfProgram program) throws IOException {
        int netnsFd = Libc.open(netnsPath.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        try {
            String what = program.name() + " on netns " + netnsPath;
            MemorySegment created = program.use(() -> {
                MemorySegment result;
                int errno;
                List<String> printed;
                try (Arena arena = Arena.ofConfined(); LibbpfLog.Capture capture = LibbpfLog.capture()) {
                    MemorySegment state = LibcHandles.callState(arena);
                    result = Libbpf.invokePointer("bpf_program__attach_netns", () -> (MemorySegment) Libbpf.handles()
                            .attachNetns().invokeExact(state, program.pointer(), netnsFd));
                    errno = LibcHandles.errno(state);
                    printed = capture.lines();
                }
                if (result.equals(MemorySegment.NULL)) {
                    throw new BpfException("bpf_program__attach_netns(" + program + ", " + netnsPath + ")",
                            errno == 0 ? Errno.EINVAL : errno, printed, "", "");
                }
                return result;
            });
            BpfLink owned = BpfLink.own(created, what);
            try {
                return new NetnsAttachment(owned, netnsPath.toString(), owned.info());
            } catch (IOException | RuntimeException e) {
                owned.close();
                throw e;
            }
        } finally {
            // the link holds its own reference on the namespace
            BpfFds.close(netnsFd, "netns " + netnsPath);
        }
    }

    /**
     * Takes over the netns link pinned at {@code pin}, e.g. one a previous agent left.
     *
     * @throws BpfException when nothing is pinned there or the pin holds no netns link
     */
    public static NetnsAttachment adopt(Path pin) throws IOException {
        BpfLink link = BpfLink.openPinned(pin);
        try {
            BpfLink.Info info = link.info();
            if (info.type() != TYPE_NETNS) {
                throw new BpfException("adopt netns link pinned at " + pin, Errno.EINVAL, List.of(), "",
                        "the pin holds a link of type " + info.type() + ", not a netns link (type " + TYPE_NETNS + ")");
            }
            return new NetnsAttachment(link, "pinned at " + pin, info);
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
        return "program id " + info.programId() + " on " + netns + " (link id " + info.id() + ")";
    }
}
