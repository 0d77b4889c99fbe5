package io.shunt.ffi.libc;

import java.io.IOException;

/**
 * A native call failed with an errno. The message names the call with its input, the errno's
 * symbolic name and the C library's description, e.g.
 * {@code setns(fd=17 /var/run/netns/web-1, CLONE_NEWNET) failed: EPERM (Operation not permitted)}.
 */
public class NativeCallException extends IOException {
    private final String call;
    private final int errno;

    public NativeCallException(String call, int errno) {
        super(call + " failed: " + Errno.name(errno) + " (" + Errno.describe(errno) + ")");
        this.call = call;
        this.errno = errno;
    }

    /** The call and its input, as it appears in the message. */
    public String call() {
        return call;
    }

    public int errno() {
        return errno;
    }

    public String errnoName() {
        return Errno.name(errno);
    }
}
