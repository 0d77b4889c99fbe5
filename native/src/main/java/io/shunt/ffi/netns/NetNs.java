package io.shunt.ffi.netns;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.Libc;
import io.shunt.ffi.libc.NativeCallException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
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
    /** How messages name this namespace: its path, or what it is when it has no name. */
    private final String label;
    private final long inode;
    private final int fd;
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private boolean closed;

    private NetNs(Path path, long inode, int fd) {
        this(path, path.toString(), inode, fd);
    }

    private NetNs(Path path, String label, long inode, int fd) {
        this.path = path;
        this.label = label;
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
            closeQuietly(fd, path.toString());
            throw e;
        }
    }

    /**
     * Creates a brand-new, anonymous network namespace for side-effecting probes: it has no name
     * in {@code /var/run/netns}, no process lives in it, and this handle is the only thing keeping
     * it alive. Closing the handle lets the kernel free the namespace together with everything
     * created inside it (nft tables, links, sockets that are closed), so there is nothing else to
     * clean up and nothing a crash could leave behind.
     *
     * <p>A dedicated short-lived platform thread calls {@code unshare(CLONE_NEWNET)}, opens
     * {@code /proc/thread-self/ns/net} and ends, taking its membership with it; the calling thread
     * never changes namespace. {@link #path()} is {@code /proc/<pid>/fd/<fd>}, valid while the
     * handle is open (e.g. for {@code nsenter --net=}); messages call it
     * {@code scratch netns (inode N)}.
     *
     * @throws NativeCallException when unshare fails, e.g. EPERM without CAP_SYS_ADMIN
     */
    public static NetNs createScratch() throws IOException {
        AtomicReference<NetNs> created = new AtomicReference<>();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread thread = Thread.ofPlatform().name("shunt-scratch-netns").daemon().unstarted(() -> {
            try {
                Libc.unshare(Libc.CLONE_NEWNET, "a scratch netns");
                int fd = Libc.open("/proc/thread-self/ns/net", Libc.O_RDONLY | Libc.O_CLOEXEC);
                try {
                    long inode = (Long) Files.getAttribute(Path.of("/proc/self/fd/" + fd), "unix:ino");
                    Path path = Path.of("/proc/" + ProcessHandle.current().pid() + "/fd/" + fd);
                    created.set(new NetNs(path, "scratch netns (inode " + inode + ")", inode, fd));
                } catch (IOException | RuntimeException e) {
                    closeQuietly(fd, "scratch netns");
                    throw e;
                }
            } catch (Throwable t) {
                failed.set(t);
            }
        });
        thread.start();
        // Not interruptible: abandoning the thread could leak the handle it is about to return.
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable failure = failed.get();
        switch (failure) {
            case null -> {
                return created.get();
            }
            case IOException e -> throw e;
            case RuntimeException e -> throw e;
            case Error e -> throw e;
            default -> throw new IllegalStateException("creating a scratch netns failed", failure);
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
                throw new NetNsException("network namespace " + label + " was closed");
            }
            Libc.setns(fd, Libc.CLONE_NEWNET, label);
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
                closeQuietly(fd, label);
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return label.equals(path.toString()) ? "netns " + path + " (inode " + inode + ")" : label;
    }

    private static void closeQuietly(int fd, String what) {
        try {
            Libc.close(fd, what);
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
