package io.shunt.ffi.libc;

import io.shunt.ffi.libc.internal.LibcHandles;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** Filesystem types and mounts: {@code statfs}, {@code mount} and {@code umount2}, errno as exceptions. */
public final class Mounts {
    /** BPF_FS_MAGIC from linux/magic.h. */
    public static final long BPF_FS_MAGIC = 0xcafe4a11L;
    /** CGROUP2_SUPER_MAGIC from linux/magic.h. */
    public static final long CGROUP2_SUPER_MAGIC = 0x63677270L;

    /**
     * sizeof(struct statfs) on LP64 glibc (x86_64 and aarch64), measured with a C program; f_type
     * is its first field, a long.
     */
    private static final long STATFS_SIZE = 120;

    private Mounts() {
    }

    /** The {@code f_type} magic of the filesystem {@code path} is on, e.g. {@link #BPF_FS_MAGIC}. */
    public static long filesystemType(Path path) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            MemorySegment buf = arena.allocate(STATFS_SIZE, 8);
            int rc = (int) LibcHandles.statfs$mh.invokeExact(state, arena.allocateFrom(path.toString()), buf);
            if (rc < 0) {
                throw new NativeCallException("statfs(" + path + ")", LibcHandles.errno(state));
            }
            return buf.get(JAVA_LONG, 0);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling statfs", t);
        }
    }

    /**
     * {@code mount(source, target, fstype, flags, data)}, e.g. {@code mount("bpf", dir, "bpf", 0,
     * "mode=0700")}. Needs CAP_SYS_ADMIN in the mount namespace's owning user namespace.
     */
    public static void mount(String source, Path target, String fstype, long flags, String data)
            throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            MemorySegment options = data == null ? MemorySegment.NULL : arena.allocateFrom(data);
            int rc = (int) LibcHandles.mount$mh.invokeExact(state, arena.allocateFrom(source),
                    arena.allocateFrom(target.toString()), arena.allocateFrom(fstype), flags, options);
            if (rc < 0) {
                throw new NativeCallException("mount(" + source + ", " + target + ", " + fstype + ", 0x"
                        + Long.toHexString(flags) + ", " + data + ")", LibcHandles.errno(state));
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling mount", t);
        }
    }

    /** {@code umount2(target, flags)}: EINVAL when {@code target} is not a mount point, EBUSY while it is in use. */
    public static void umount2(Path target, int flags) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            int rc = (int) LibcHandles.umount2$mh.invokeExact(state, arena.allocateFrom(target.toString()), flags);
            if (rc < 0) {
                throw new NativeCallException("umount2(" + target + ", " + flags + ")", LibcHandles.errno(state));
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling umount2", t);
        }
    }
}
