package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.Libc;
import io.shunt.ffi.libc.NativeCallException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** What every BPF fd supports: info by fd, pinning, opening a pin, and telling maps from programs and links. */
final class BpfFds {
    /** What {@code /proc/self/fd/N} links to for each kind of BPF fd. */
    static final Set<String> MAP = Set.of("anon_inode:bpf-map");
    /** Kernels before 6.x name link fds "bpf_link"; 6.18 says "bpf-link". */
    static final Set<String> LINK = Set.of("anon_inode:bpf_link", "anon_inode:bpf-link");

    private BpfFds() {
    }

    /** {@code bpf_obj_get_info_by_fd} into a zeroed segment of {@code layout}, in the caller's arena. */
    static MemorySegment info(Arena arena, int fd, StructLayout layout, String what) throws BpfException {
        MemorySegment info = arena.allocate(layout);
        MemorySegment length = arena.allocateFrom(JAVA_INT, (int) layout.byteSize());
        int rc = Libbpf.invoke("bpf_obj_get_info_by_fd",
                () -> (int) Libbpf.handles().objGetInfo().invokeExact(fd, info, length));
        if (rc < 0) {
            throw new BpfException("bpf_obj_get_info_by_fd(fd=" + fd + " " + what + ")", -rc);
        }
        return info;
    }

    /**
     * {@code bpf_obj_get(pin)}: an fd of the pinned object, which must be of one of {@code kinds}
     * ({@link #MAP} or {@link #LINK}); the caller owns it.
     */
    static int open(Path pin, Set<String> kinds) throws IOException {
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment path = arena.allocateFrom(pin.toString());
            fd = Libbpf.invoke("bpf_obj_get", () -> (int) Libbpf.handles().objGet().invokeExact(path));
        }
        if (fd < 0) {
            throw new BpfException("bpf_obj_get(" + pin + ")", -fd, List.of(), "",
                    -fd == Errno.ENOENT ? "nothing is pinned there" : -fd == Errno.EPERM || -fd == Errno.EINVAL
                            ? "a pin must be on a bpffs (Bpffs.ensureMounted) and the caller needs CAP_BPF" : "");
        }
        String actual = kind(fd);
        if (!kinds.contains(actual)) {
            close(fd, pin.toString());
            String wanted = kinds == LINK ? "a BPF link" : "a BPF map";
            throw new BpfException("bpf_obj_get(" + pin + ")", Errno.EINVAL, List.of(), "",
                    "the pin holds " + actual.replace("anon_inode:", "a ") + ", not " + wanted);
        }
        return fd;
    }

    /** {@code bpf_obj_pin(fd, pin)}, after checking that the pin's folder is on a bpffs (created if missing). */
    static void pin(int fd, Path pin, String what) throws IOException {
        Bpffs.preparePinFolder(pin, what);
        int rc;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment path = arena.allocateFrom(pin.toString());
            rc = Libbpf.invoke("bpf_obj_pin", () -> (int) Libbpf.handles().objPin().invokeExact(fd, path));
        }
        if (rc < 0) {
            throw new BpfException("bpf_obj_pin(fd=" + fd + " " + what + ", " + pin + ")", -rc, List.of(), "",
                    -rc == Errno.EEXIST ? "something is pinned there already; unpin it first or pick another path" : "");
        }
    }

    /**
     * Removes a pin ({@code unlink}, as libbpf does). Only a file on a bpffs is removed, so a wrong
     * path can never delete an ordinary file; a pin that is already gone is fine.
     */
    static void unpin(Path pin, String what) throws IOException {
        if (!Files.exists(pin, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Bpffs.isBpffs(pin)) {
            throw new IOException("not unpinning " + what + " at " + pin + ": that path is not on a bpffs, so it is no pin");
        }
        Files.deleteIfExists(pin);
    }

    /** E.g. {@code anon_inode:bpf-map}; what the fd is when it is no BPF object. */
    static String kind(int fd) throws IOException {
        return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
    }

    static void close(int fd, String what) {
        try {
            Libc.close(fd, what);
        } catch (NativeCallException ignored) {
            // close(2) releases the fd even when it reports an error; nothing else to undo
        }
    }

    /** A NUL-terminated name of at most {@code max} bytes inside an info struct. */
    static String name(MemorySegment info, long offset, int max) {
        return info.asSlice(offset, max).getString(0);
    }
}
