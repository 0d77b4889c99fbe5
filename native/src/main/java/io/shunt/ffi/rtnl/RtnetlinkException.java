package io.shunt.ffi.rtnl;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.NativeCallException;

/**
 * The kernel answered an rtnetlink request with an error. The message names the request and its
 * object, the errno, the C library's text for it and, when the kernel gave one, its extended-ack
 * text, e.g. {@code RTM_NEWRULE fwmark 0x5349 table 21321 priority 100 failed: EEXIST (File exists)}
 * or {@code RTM_DELROUTE local 0.0.0.0/0 dev lo table 7 failed: ESRCH (No such process); kernel:
 * FIB table does not exist.}
 */
public final class RtnetlinkException extends NativeCallException {
    private final String kernelMessage;

    public RtnetlinkException(String request, int errno, String kernelMessage) {
        super(request, errno);
        this.kernelMessage = kernelMessage == null ? "" : kernelMessage.strip();
    }

    /** The kernel's extended-ack text (NLMSGERR_ATTR_MSG), or empty when it sent none. */
    public String kernelMessage() {
        return kernelMessage;
    }

    @Override
    public String getMessage() {
        return call() + " failed: " + errnoName() + " (" + Errno.describe(errno()) + ")"
                + (kernelMessage.isEmpty() ? "" : "; kernel: " + kernelMessage);
    }
}
