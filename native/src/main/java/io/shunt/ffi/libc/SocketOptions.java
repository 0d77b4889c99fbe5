package io.shunt.ffi.libc;

import io.shunt.ffi.libc.internal.LibcHandles;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The socket options the JDK and Netty do not expose, read and written on a raw fd. The fd is
 * borrowed: these methods never close it.
 */
public final class SocketOptions {
    static final int SOL_SOCKET = 1;
    static final int SOL_IP = 0;
    static final int SO_MARK = 36;
    static final int SO_REUSEPORT = 15;
    static final int SO_COOKIE = 57;
    static final int SO_NETNS_COOKIE = 71;
    static final int IP_TRANSPARENT = 19;
    /** From linux/netfilter_ipv4.h: the pre-NAT destination of a conntrack'ed connection. */
    static final int SO_ORIGINAL_DST = 80;
    private static final short AF_INET = 2;

    private SocketOptions() {
    }

    /** Sets SO_MARK, so the socket's packets carry {@code mark} (needs CAP_NET_ADMIN). */
    public static void setMark(int fd, int mark) throws NativeCallException {
        setInt(fd, SOL_SOCKET, SO_MARK, mark, "SO_MARK=0x" + Integer.toHexString(mark));
    }

    /**
     * Sets SO_REUSEPORT before bind, so that another process of the same user can bind the same
     * address alongside (a successor agent taking over a listener without a gap).
     */
    public static void setReusePort(int fd, boolean on) throws NativeCallException {
        setInt(fd, SOL_SOCKET, SO_REUSEPORT, on ? 1 : 0, "SO_REUSEPORT=" + (on ? 1 : 0));
    }

    public static boolean reusePort(int fd) throws NativeCallException {
        return getInt(fd, SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT") != 0;
    }

    public static int mark(int fd) throws NativeCallException {
        return getInt(fd, SOL_SOCKET, SO_MARK, "SO_MARK");
    }

    /** Sets IP_TRANSPARENT, letting the socket bind to and accept for non-local addresses. */
    public static void setTransparent(int fd, boolean on) throws NativeCallException {
        setInt(fd, SOL_IP, IP_TRANSPARENT, on ? 1 : 0, "IP_TRANSPARENT=" + on);
    }

    public static boolean transparent(int fd) throws NativeCallException {
        return getInt(fd, SOL_IP, IP_TRANSPARENT, "IP_TRANSPARENT") != 0;
    }

    /** The socket's cookie: a 64-bit id unique for the life of the kernel. */
    public static long cookie(int fd) throws NativeCallException {
        return getLong(fd, SOL_SOCKET, SO_COOKIE, "SO_COOKIE");
    }

    /** The cookie of the network namespace the socket was created in. */
    public static long netnsCookie(int fd) throws NativeCallException {
        return getLong(fd, SOL_SOCKET, SO_NETNS_COOKIE, "SO_NETNS_COOKIE");
    }

    /**
     * The destination a connection had before netfilter NAT rewrote it (IPv4). Fails with
     * ENOENT when the connection was not NATed, e.g. a client that dialled the listener directly.
     */
    public static InetSocketAddress originalDestination(int fd) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            MemorySegment addr = arena.allocate(LibcHandles.SOCKADDR_IN);
            MemorySegment len = arena.allocateFrom(JAVA_INT, (int) addr.byteSize());
            int rc = (int) LibcHandles.getsockopt$mh.invokeExact(state, fd, SOL_IP, SO_ORIGINAL_DST, addr, len);
            if (rc < 0) {
                throw new NativeCallException("getsockopt(fd=" + fd + ", SOL_IP, SO_ORIGINAL_DST)",
                        LibcHandles.errno(state));
            }
            short family = addr.get(ValueLayout.JAVA_SHORT, 0);
            if (family != AF_INET) {
                throw new IllegalStateException("SO_ORIGINAL_DST on fd " + fd + " returned address family " + family);
            }
            int port = Short.toUnsignedInt(Short.reverseBytes(addr.get(ValueLayout.JAVA_SHORT, 2)));
            byte[] ip = addr.asSlice(4, 4).toArray(ValueLayout.JAVA_BYTE);
            return new InetSocketAddress(InetAddress.getByAddress(ip), port);
        } catch (NativeCallException e) {
            throw e;
        } catch (UnknownHostException e) {
            throw new IllegalStateException("4-byte address rejected", e);
        } catch (Throwable t) {
            throw new LinkageError("calling getsockopt", t);
        }
    }

    private static void setInt(int fd, int level, int option, int value, String what) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            MemorySegment val = arena.allocateFrom(JAVA_INT, value);
            int rc = (int) LibcHandles.setsockopt$mh.invokeExact(state, fd, level, option, val, (int) JAVA_INT.byteSize());
            if (rc < 0) {
                throw new NativeCallException("setsockopt(fd=" + fd + ", " + what + ")", LibcHandles.errno(state));
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling setsockopt", t);
        }
    }

    private static int getInt(int fd, int level, int option, String what) throws NativeCallException {
        return (int) get(fd, level, option, what, JAVA_INT);
    }

    private static long getLong(int fd, int level, int option, String what) throws NativeCallException {
        return get(fd, level, option, what, JAVA_LONG);
    }

    private static long get(int fd, int level, int option, String what, ValueLayout layout) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            MemorySegment val = arena.allocate(layout);
            MemorySegment len = arena.allocateFrom(JAVA_INT, (int) layout.byteSize());
            int rc = (int) LibcHandles.getsockopt$mh.invokeExact(state, fd, level, option, val, len);
            if (rc < 0) {
                throw new NativeCallException("getsockopt(fd=" + fd + ", " + what + ")", LibcHandles.errno(state));
            }
            return layout == JAVA_LONG ? val.get(JAVA_LONG, 0) : val.get(JAVA_INT, 0);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling getsockopt", t);
        }
    }
}
