package io.shunt.ffi.bpf;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The life of one native handle (an object, a map fd, a link): any number of calls use it at the
 * same time, closing waits for them and happens once, and a closed handle refuses further calls.
 * That keeps a released fd number, which the kernel hands out again at once, from being used
 * for whatever object gets it next.
 */
final class Guard {
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final String what;
    private boolean closed;

    /** @param what the handle in messages, e.g. {@code BPF object shunt_probe} */
    Guard(String what) {
        this.what = what;
    }

    @FunctionalInterface
    interface Call<T, X extends Exception> {
        T run() throws X;
    }

    @FunctionalInterface
    interface Release<X extends Exception> {
        void run() throws X;
    }

    /** Runs {@code call} while the handle is open; @throws IllegalStateException once it is closed. */
    <T, X extends Exception> T use(Call<T, X> call) throws X {
        lock.readLock().lock();
        try {
            if (closed) {
                throw new IllegalStateException(what + " is closed");
            }
            return call.run();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Runs {@code release} once, after every running call has returned; later closes do nothing. */
    <X extends Exception> void close(Release<X> release) throws X {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            release.run();
        } finally {
            lock.writeLock().unlock();
        }
    }

    boolean isClosed() {
        lock.readLock().lock();
        try {
            return closed;
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public String toString() {
        return what;
    }
}
