package io.shunt.ffi.netns;

import io.shunt.ffi.libc.NativeCallException;

/**
 * A thread could not return to its home network namespace. Any socket it creates from now on
 * would land in a pod's namespace, so this is not recoverable for that thread.
 */
public final class NetNsRestoreError extends Error {
    NetNsRestoreError(NativeCallException cause) {
        super("thread " + Thread.currentThread().getName() + " could not return to its home network namespace: "
                + cause.getMessage(), cause);
    }
}
