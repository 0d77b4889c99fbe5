package io.shunt.ffi.netns;

import java.io.IOException;

/** A path that should name a usable network namespace does not. */
public final class NetNsException extends IOException {
    public NetNsException(String message) {
        super(message);
    }
}
