package io.shunt.ffi.netns;

import io.shunt.ffi.libc.Libc;
import io.shunt.ffi.libc.NativeCallException;

import java.lang.ref.Cleaner;
import java.nio.file.Path;

/**
 * The namespace a platform thread lives in, opened once per thread so that entering and leaving
 * a pod's namespace costs two setns calls and nothing else. When the thread ends, its entry
 * becomes unreachable and a cleaner closes the fd, so short-lived threads leak nothing.
 */
final class HomeNetNs {
    private static final ThreadLocal<HomeNetNs> HOME = new ThreadLocal<>();
    private static final Cleaner CLEANER = Cleaner.create();

    private final int fd;
    /** The namespace the thread is inside now, or null when it is at home. */
    Path inside;

    private HomeNetNs(int fd) {
        this.fd = fd;
    }

    static HomeNetNs forCurrentThread() throws NativeCallException {
        Thread thread = Thread.currentThread();
        if (thread.isVirtual()) {
            // A virtual thread can move between carrier threads, and setns applies to the carrier.
            throw new IllegalStateException("network namespace entry needs a platform thread, not the virtual thread "
                    + thread);
        }
        HomeNetNs home = HOME.get();
        if (home == null) {
            int fd = Libc.open("/proc/thread-self/ns/net", Libc.O_RDONLY | Libc.O_CLOEXEC);
            home = new HomeNetNs(fd);
            CLEANER.register(home, new CloseFd(fd));
            HOME.set(home);
        }
        return home;
    }

    /** Holds only the fd number: a cleaning action must not reach the object it cleans up after. */
    private record CloseFd(int fd) implements Runnable {
        @Override
        public void run() {
            try {
                Libc.close(fd, "home netns of an ended thread");
            } catch (NativeCallException ignored) {
                // close(2) releases the fd even when it reports an error
            }
        }
    }

    void restore() {
        try {
            Libc.setns(fd, Libc.CLONE_NEWNET, "home netns of thread " + Thread.currentThread().getName());
        } catch (NativeCallException e) {
            throw new NetNsRestoreError(e);
        }
    }
}
