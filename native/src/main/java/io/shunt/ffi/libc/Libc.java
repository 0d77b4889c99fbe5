package io.shunt.ffi.libc;

import io.shunt.ffi.libc.internal.LibcHandles;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

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
