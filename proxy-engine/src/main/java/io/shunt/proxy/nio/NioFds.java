package io.shunt.proxy.nio;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.channels.Channel;

/**
 * Reads the fd behind a JDK socket channel. The JDK keeps it in an internal interface, so the JVM
 * must be started with {@value #FLAG}; without it the NIO transport is unavailable and says why.
 */
public final class NioFds {
    public static final String FLAG = "--add-exports java.base/sun.nio.ch=ALL-UNNAMED";

    private static final MethodHandle GET_FD_VAL;
    private static final String UNAVAILABLE;

    static {
        MethodHandle handle = null;
        String reason = "";
        try {
            Class<?> selChImpl = Class.forName("sun.nio.ch.SelChImpl");
            handle = MethodHandles.lookup().findVirtual(selChImpl, "getFDVal", MethodType.methodType(int.class));
        } catch (ReflectiveOperationException | RuntimeException e) {
            reason = "the engine needs socket fds, which the JDK exposes only when the JVM runs with " + FLAG
                    + " (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")";
        }
        GET_FD_VAL = handle;
        UNAVAILABLE = reason;
    }

    private NioFds() {
    }

    public static boolean isAvailable() {
        return GET_FD_VAL != null;
    }

    public static String unavailabilityCause() {
        return UNAVAILABLE;
    }

    static int fd(Channel jdkChannel) {
        try {
            return (int) GET_FD_VAL.invoke(jdkChannel);
        } catch (Throwable t) {
            throw new IllegalStateException("cannot read the fd of " + jdkChannel + ": " + UNAVAILABLE, t);
        }
    }
}
