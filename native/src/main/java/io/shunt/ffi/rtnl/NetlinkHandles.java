package io.shunt.ffi.rtnl;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Method handles for the socket calls a netlink socket needs beyond what
 * {@link io.shunt.ffi.libc.internal.LibcHandles} offers. Like those, every handle captures errno
 * into a segment the caller allocates per call ({@code LibcHandles.callState}).
 */
final class NetlinkHandles {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");

    /** int socket(int domain, int type, int protocol) */
    static final MethodHandle socket$mh = errnoHandle("socket",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    /** ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t addrlen) */
    static final MethodHandle sendto$mh = errnoHandle("sendto",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    /** ssize_t recv(int fd, void *buf, size_t len, int flags) */
    static final MethodHandle recv$mh = errnoHandle("recv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));

    private NetlinkHandles() {
    }

    private static MethodHandle errnoHandle(String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = LINKER.defaultLookup().find(name).orElseThrow(() -> new UnsatisfiedLinkError(
                "libc symbol '" + name + "' not found by the JDK's default lookup"));
        return LINKER.downcallHandle(symbol, descriptor, ERRNO);
    }
}
