package io.shunt.ffi.libc;

import io.shunt.ffi.libc.internal.LibcHandles;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The libc calls Shunt makes, with errno turned into {@link NativeCallException}. Each method
 * takes a short description of its input ({@code what}) so the exception names the object, not
 * only the fd.
 */
public final class Libc {
    public static final int O_RDONLY = 0;
    public static final int O_CLOEXEC = 0x80000;
    public static final int CLONE_NEWNET = 0x40000000;

    private Libc() {
    }

    public static int open(String path, int flags) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            int fd = (int) LibcHandles.open$mh.invokeExact(state, arena.allocateFrom(path), flags);
            if (fd < 0) {
                throw new NativeCallException("open(" + path + ")", LibcHandles.errno(state));
            }
            return fd;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling open", t);
        }
    }

    public static void close(int fd, String what) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            int rc = (int) LibcHandles.close$mh.invokeExact(state, fd);
            if (rc < 0) {
                throw new NativeCallException("close(fd=" + fd + " " + what + ")", LibcHandles.errno(state));
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling close", t);
        }
    }

    /** Moves the calling OS thread into the namespace that {@code fd} refers to. */
    public static void setns(int fd, int nstype, String what) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            int rc = (int) LibcHandles.setns$mh.invokeExact(state, fd, nstype);
            if (rc < 0) {
                throw new NativeCallException("setns(fd=" + fd + " " + what + ", "
                        + (nstype == CLONE_NEWNET ? "CLONE_NEWNET" : Integer.toHexString(nstype)) + ")",
                        LibcHandles.errno(state));
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling setns", t);
        }
    }

    /**
     * Moves the calling OS thread into new namespaces of the kinds in {@code flags} (e.g.
     * {@link #CLONE_NEWNET}); other threads of the process stay where they are.
     */
    public static void unshare(int flags, String what) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            int rc = (int) LibcHandles.unshare$mh.invokeExact(state, flags);
            if (rc < 0) {
                throw new NativeCallException("unshare(" + (flags == CLONE_NEWNET ? "CLONE_NEWNET" : "0x"
                        + Integer.toHexString(flags)) + ") for " + what, LibcHandles.errno(state));
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling unshare", t);
        }
    }

    /** Size of struct io_uring_params (linux/io_uring.h), which io_uring_setup reads and fills. */
    private static final long IO_URING_PARAMS_SIZE = 120;

    /**
     * Creates an io_uring instance with {@code entries} submission entries and default parameters,
     * and returns its fd, which the caller owns and must close. Fails with ENOSYS where the kernel
     * lacks io_uring, EPERM where it is disabled ({@code kernel.io_uring_disabled}) or a seccomp
     * filter blocks it.
     */
    public static int ioUringSetup(int entries) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            MemorySegment params = arena.allocate(IO_URING_PARAMS_SIZE, 8); // zeroed: no flags
            long rc = (long) LibcHandles.syscallIntPtr$mh.invokeExact(state, LibcHandles.SYS_IO_URING_SETUP,
                    entries, params);
            if (rc < 0) {
                throw new NativeCallException("io_uring_setup(entries=" + entries + ")", LibcHandles.errno(state));
            }
            // sq_entries is rounded up to a power of two; a ring with none would be a kernel bug
            if (params.get(JAVA_INT, 0) < entries) {
                close((int) rc, "io_uring fd");
                throw new IllegalStateException("io_uring_setup(entries=" + entries + ") returned a ring with "
                        + params.get(JAVA_INT, 0) + " submission entries");
            }
            return (int) rc;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling io_uring_setup", t);
        }
    }

    /** ioctl with no argument, returning the call's non-negative result. */
    public static int ioctl(int fd, long request, String what) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            int rc = (int) LibcHandles.ioctl$mh.invokeExact(state, fd, request);
            if (rc < 0) {
                throw new NativeCallException("ioctl(fd=" + fd + " " + what + ", 0x" + Long.toHexString(request) + ")",
                        LibcHandles.errno(state));
            }
            return rc;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling ioctl", t);
        }
    }
}
