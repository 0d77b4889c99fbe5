package io.shunt.ffi.libc.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Method handles for the libc functions Shunt calls. Every handle that can fail captures errno
 * into a segment the caller allocates in its own arena, so no errno is ever shared between calls.
 */
public final class LibcHandles {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");

    public static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO_VH =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    /** int open(const char *path, int flags, ...) */
    public static final MethodHandle open$mh = errnoHandle("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), Linker.Option.firstVariadicArg(2));
    /** int close(int fd) */
    public static final MethodHandle close$mh = errnoHandle("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    /** int setns(int fd, int nstype) */
    public static final MethodHandle setns$mh = errnoHandle("setns", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    /** int ioctl(int fd, unsigned long request, ...) with no third argument */
    public static final MethodHandle ioctl$mh = errnoHandle("ioctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), Linker.Option.firstVariadicArg(2));
    /** int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen) */
    public static final MethodHandle getsockopt$mh = errnoHandle("getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    /** int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen) */
    public static final MethodHandle setsockopt$mh = errnoHandle("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));

    /** int statfs(const char *path, struct statfs *buf) */
    public static final MethodHandle statfs$mh = errnoHandle("statfs", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    /** int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data) */
    public static final MethodHandle mount$mh = errnoHandle("mount",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    /** int umount2(const char *target, int flags) */
    public static final MethodHandle umount2$mh = errnoHandle("umount2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));

    /** int unshare(int flags) */
    public static final MethodHandle unshare$mh = errnoHandle("unshare", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    /**
     * long syscall(long number, int a1, void *a2): a raw system call glibc has no wrapper for, e.g.
     * {@code io_uring_setup(entries, params)}. Returns -1 and sets errno on failure.
     */
    public static final MethodHandle syscallIntPtr$mh = errnoHandle("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS), Linker.Option.firstVariadicArg(1));
    /** long syscall(long number, int a1, void *a2, int a3), e.g. {@code bpf(cmd, attr, size)}. */
    public static final MethodHandle syscallIntPtrInt$mh = errnoHandle("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), Linker.Option.firstVariadicArg(1));

    /**
     * io_uring_setup: 425 on every architecture (system calls from 403 on share one number table).
     * Debian 12's glibc has no wrapper for it.
     */
    public static final long SYS_IO_URING_SETUP = 425;
    /** bpf: architecture-specific; -1 where Shunt does not know it (the caller must refuse, not guess). */
    public static final long SYS_BPF = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 321;
        case "aarch64", "riscv64" -> 280;
        default -> -1;
    };

    private static final MethodHandle strerror$mh = LINKER.downcallHandle(
            find("strerror"), FunctionDescriptor.of(ADDRESS, JAVA_INT));

    private LibcHandles() {
    }

    /** Allocates the errno capture segment for one call, to be passed as the handle's first argument. */
    public static MemorySegment callState(Arena arena) {
        return arena.allocate(CALL_STATE);
    }

    public static int errno(MemorySegment callState) {
        return (int) ERRNO_VH.get(callState, 0L);
    }

    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) strerror$mh.invokeExact(errno);
            return text.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            return "unknown error";
        }
    }

    private static MethodHandle errnoHandle(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = ERRNO;
        System.arraycopy(extra, 0, options, 1, extra.length);
        return LINKER.downcallHandle(find(name), descriptor, options);
    }

    private static MemorySegment find(String name) {
        return LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError(
                "libc symbol '" + name + "' not found by the JDK's default lookup"));
    }

    /** Layout of struct sockaddr_in, as SO_ORIGINAL_DST fills it. */
    public static final StructLayout SOCKADDR_IN = MemoryLayout.structLayout(
            ValueLayout.JAVA_SHORT.withName("sin_family"),
            ValueLayout.JAVA_SHORT.withName("sin_port"),
            MemoryLayout.sequenceLayout(4, ValueLayout.JAVA_BYTE).withName("sin_addr"),
            MemoryLayout.sequenceLayout(8, ValueLayout.JAVA_BYTE).withName("sin_zero"));
}
