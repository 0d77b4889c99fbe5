package io.shunt.ffi.netns;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.Libc;
import io.shunt.ffi.libc.NativeCallException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An open handle on a network namespace, identified by its nsfs inode. {@link #run} executes a
 * closure with the calling OS thread inside the namespace: sockets created there belong to it for
 * their whole life, whatever thread uses them afterwards.
 *
 * <p>The handle has one owner, closes idempotently and is unusable after close. Closing waits for
 * closures that are inside the namespace, so the fd is never reused under a running {@code setns}.
 */
public final class NetNs implements AutoCloseable {
    /** NS_GET_NSTYPE from linux/nsfs.h: _IO(0xb7, 0x3). */
    private static final long NS_GET_NSTYPE = 0xb703L;

    private final Path path;
    private final long inode;
    private final int fd;
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed;

    private NetNs(Path path, long inode, int fd) {
        this.path = path;
        this.inode = inode;
        this.fd = fd;
    }

    /**
     * Opens the network namespace at {@code path} (e.g. {@code /var/run/netns/web-1} or
     * {@code /proc/1234/ns/net}) and checks that it really is one.
     */
    public static NetNs open(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new NetNsException("network namespace path " + path + " does not exist");
        }
        int fd = Libc.open(path.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        try {
            int type;
            try {
                type = Libc.ioctl(fd, NS_GET_NSTYPE, path.toString());
            } catch (NativeCallException e) {
                if (e.errno() == Errno.ENOTTY || e.errno() == Errno.EINVAL) {
                    throw new NetNsException(path + " is not a namespace file (NS_GET_NSTYPE: " + e.errnoName() + ")");
                }
                throw e;
            }
            if (type != Libc.CLONE_NEWNET) {
                throw new NetNsException(path + " is a namespace but not a network namespace (type 0x"
                        + Integer.toHexString(type) + ")");
            }
            long inode = (Long) Files.getAttribute(Path.of("/proc/self/fd/" + fd), "unix:ino");
            return new NetNs(path, inode, fd);
        } catch (IOException | RuntimeException e) {
            closeQuietly(fd, path);
            throw e;
        }
    }

    /** The namespace the calling thread is in now. */
    public static NetNs current() throws IOException {
        return open(Path.of("/proc/thread-self/ns/net"));
    }

    public Path path() {
        return path;
    }

    /** The nsfs inode: two handles with the same inode refer to the same namespace. */
    public long inode() {
        return inode;
    }

    /**
     * Runs {@code action} with the calling platform thread inside this namespace and returns it to
     * the thread's home namespace afterwards, even when the action throws. Entering fails with a
     * {@link NativeCallException} naming this namespace; failing to return is an {@link Error},
     * because the thread can no longer be trusted with any socket it creates.
     */
    public <T, X extends Exception> T run(NetNsAction<T, X> action) throws X, IOException {
        HomeNetNs home = HomeNetNs.forCurrentThread();
        if (home.inside != null) {
            throw new IllegalStateException("thread " + Thread.currentThread().getName()
                    + " is already inside " + home.inside + "; nested network namespace entry is not supported");
        }
        ReentrantReadWriteLock.ReadLock lock = lifecycle.readLock();
        lock.lock();
        try {
            if (closed) {
                throw new NetNsException("network namespace " + path + " was closed");
            }
            Libc.setns(fd, Libc.CLONE_NEWNET, path.toString());
            home.inside = path;
            try {
                return action.run();
            } finally {
                home.inside = null;
                home.restore();
            }
        } finally {
            lock.unlock();
        }
    }

    public boolean isClosed() {
        lifecycle.readLock().lock();
        try {
            return closed;
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                closeQuietly(fd, path);
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "netns " + path + " (inode " + inode + ")";
    }

    private static void closeQuietly(int fd, Path path) {
        try {
            Libc.close(fd, path.toString());
        } catch (NativeCallException ignored) {
            // close(2) releases the fd even when it reports an error; nothing else to undo
        }
    }

    /** A closure run inside a namespace. */
    @FunctionalInterface
    public interface NetNsAction<T, X extends Exception> {
        T run() throws X;
    }
}
