package io.shunt.ffi.rtnl;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.Libc;
import io.shunt.ffi.libc.NativeCallException;
import io.shunt.ffi.libc.internal.LibcHandles;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static io.shunt.ffi.rtnl.Netlink.NLMSG_DONE;
import static io.shunt.ffi.rtnl.Netlink.NLMSG_ERROR;
import static io.shunt.ffi.rtnl.Netlink.NLMSG_HDRLEN;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A NETLINK_ROUTE socket, created in the network namespace of the calling thread and bound to it
 * for its whole life. One request at a time: each is sent with a fresh sequence number and the
 * socket reads until the kernel's answer to that number. The socket owns its fd; closing is
 * idempotent and the socket is unusable afterwards.
 */
final class NetlinkSocket implements AutoCloseable {
    /** A kernel that has not answered in this time never will; fail instead of hanging the caller. */
    private static final int RECEIVE_TIMEOUT_SECONDS = 5;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;
    private static final int DUMP_ATTEMPTS = 3;

    private final int fd;
    private int seq;
    private boolean closed;

    private NetlinkSocket(int fd) {
        this.fd = fd;
        // start from a value unlikely to collide with a stale answer queued for another socket
        this.seq = (int) (System.nanoTime() & 0x3fffffff);
    }

    static NetlinkSocket open() throws NativeCallException {
        int fd;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            fd = (int) NetlinkHandles.socket$mh.invokeExact(state, Netlink.AF_NETLINK,
                    Netlink.SOCK_RAW | Netlink.SOCK_CLOEXEC, Netlink.NETLINK_ROUTE);
            if (fd < 0) {
                throw new NativeCallException("socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE)",
                        LibcHandles.errno(state));
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling socket", t);
        }
        NetlinkSocket socket = new NetlinkSocket(fd);
        try {
            // Extended acks only add the kernel's explanation to errors; a kernel without them still works.
            socket.setOptionQuietly(Netlink.SOL_NETLINK, Netlink.NETLINK_EXT_ACK, 1);
            socket.setOptionQuietly(Netlink.SOL_NETLINK, Netlink.NETLINK_CAP_ACK, 1);
            socket.setReceiveTimeout();
            return socket;
        } catch (NativeCallException | RuntimeException | Error e) {
            socket.close();
            throw e;
        }
    }

    /**
     * Sends a request with NLM_F_ACK and returns when the kernel acknowledges it.
     *
     * @param what the request as it appears in an error, e.g. {@code RTM_NEWRULE fwmark 0x5349 ...}
     * @throws RtnetlinkException with the kernel's errno when it refuses the request
     */
    void request(int type, int flags, byte[] body, String what) throws NativeCallException {
        int mySeq = send(type, Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK | flags, body, what);
        while (true) {
            for (Netlink.Message m : receive(what)) {
                if (m.seq() != mySeq) {
                    continue;
                }
                if (m.type() == NLMSG_ERROR) {
                    int error = m.u32(0);
                    if (error == 0) {
                        return;
                    }
                    throw new RtnetlinkException(what, -error, extAck(m));
                }
                // a non-ack answer to a request that only asked for an ack: ignore it, the ack follows
            }
        }
    }

    /**
     * Dumps every object of a kind (NLM_F_DUMP) and returns the kernel's messages in order. A dump
     * the kernel marks as interrupted by a concurrent change is retried a few times.
     */
    List<Netlink.Message> dump(int type, byte[] body, String what) throws NativeCallException {
        for (int attempt = 1; ; attempt++) {
            List<Netlink.Message> out = new ArrayList<>();
            boolean interrupted = false;
            int mySeq = send(type, Netlink.NLM_F_REQUEST | Netlink.NLM_F_DUMP, body, what);
            boolean done = false;
            while (!done) {
                for (Netlink.Message m : receive(what)) {
                    if (m.seq() != mySeq) {
                        continue;
                    }
                    interrupted |= (m.flags() & Netlink.NLM_F_DUMP_INTR) != 0;
                    if (m.type() == NLMSG_DONE) {
                        int error = m.payload().limit() >= 4 ? m.u32(0) : 0;
                        if (error < 0) {
                            throw new RtnetlinkException(what, -error, "");
                        }
                        done = true;
                        break;
                    }
                    if (m.type() == NLMSG_ERROR) {
                        int error = m.u32(0);
                        throw new RtnetlinkException(what, error == 0 ? Errno.EINVAL : -error, extAck(m));
                    }
                    out.add(m);
                }
            }
            if (!interrupted) {
                return out;
            }
            if (attempt == DUMP_ATTEMPTS) {
                throw new RtnetlinkException(what + " (interrupted by concurrent changes " + DUMP_ATTEMPTS + " times)",
                        Errno.EAGAIN, "");
            }
        }
    }

    private int send(int type, int flags, byte[] body, String what) throws NativeCallException {
        ensureOpen(what);
        int mySeq = ++seq;
        int length = NLMSG_HDRLEN + body.length;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment msg = arena.allocate(length, 4);
            msg.set(JAVA_INT, 0, length);
            msg.set(JAVA_SHORT, 4, (short) type);
            msg.set(JAVA_SHORT, 6, (short) flags);
            msg.set(JAVA_INT, 8, mySeq);
            msg.set(JAVA_INT, 12, 0);
            MemorySegment.copy(body, 0, msg, JAVA_BYTE, NLMSG_HDRLEN, body.length);
            // struct sockaddr_nl { sa_family_t nl_family; unsigned short nl_pad; __u32 nl_pid; __u32 nl_groups; }
            // all zero but the family: the kernel is port 0
            MemorySegment kernel = arena.allocate(12, 4);
            kernel.set(JAVA_SHORT, 0, (short) Netlink.AF_NETLINK);
            while (true) {
                MemorySegment state = LibcHandles.callState(arena);
                long sent = (long) NetlinkHandles.sendto$mh.invokeExact(state, fd, msg, (long) length, 0, kernel,
                        (int) kernel.byteSize());
                if (sent >= 0) {
                    if (sent != length) {
                        throw new IllegalStateException("sendto(fd=" + fd + " netlink, " + what + ") sent " + sent
                                + " of " + length + " bytes");
                    }
                    return mySeq;
                }
                int errno = LibcHandles.errno(state);
                if (errno != Errno.EINTR) {
                    throw new NativeCallException("sendto(fd=" + fd + " netlink, " + what + ")", errno);
                }
            }
        } catch (NativeCallException | IllegalStateException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling sendto", t);
        }
    }

    /** Reads one datagram, sized by peeking first so a large dump batch is never cut short. */
    private List<Netlink.Message> receive(String what) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            long size = recv(arena, MemorySegment.NULL, 0, Netlink.MSG_PEEK | Netlink.MSG_TRUNC, what);
            MemorySegment buf = arena.allocate(Math.max(size, NLMSG_HDRLEN), 4);
            long n = recv(arena, buf, buf.byteSize(), 0, what);
            ByteBuffer data = buf.asSlice(0, n).asByteBuffer().order(ByteOrder.nativeOrder());
            return split(data, what);
        }
    }

    private long recv(Arena arena, MemorySegment buf, long length, int flags, String what) throws NativeCallException {
        try {
            while (true) {
                MemorySegment state = LibcHandles.callState(arena);
                long n = (long) NetlinkHandles.recv$mh.invokeExact(state, fd, buf, length, flags);
                if (n >= 0) {
                    return n;
                }
                int errno = LibcHandles.errno(state);
                if (errno == Errno.EAGAIN) {
                    throw new NativeCallException("recv(fd=" + fd + " netlink, answer to " + what + ", no answer within "
                            + RECEIVE_TIMEOUT_SECONDS + " s)", errno);
                }
                if (errno != Errno.EINTR) {
                    throw new NativeCallException("recv(fd=" + fd + " netlink, answer to " + what + ")", errno);
                }
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling recv", t);
        }
    }

    /** Splits a datagram into messages, copying each so nothing refers to the call's arena. */
    static List<Netlink.Message> split(ByteBuffer data, String what) {
        List<Netlink.Message> out = new ArrayList<>();
        int pos = 0;
        while (pos + NLMSG_HDRLEN <= data.limit()) {
            int len = data.getInt(pos);
            if (len < NLMSG_HDRLEN || pos + len > data.limit()) {
                throw new IllegalStateException("malformed netlink answer to " + what + ": message length " + len
                        + " at offset " + pos + " of a " + data.limit() + "-byte datagram");
            }
            int type = Short.toUnsignedInt(data.getShort(pos + 4));
            int flags = Short.toUnsignedInt(data.getShort(pos + 6));
            int seq = data.getInt(pos + 8);
            ByteBuffer payload = ByteBuffer.allocate(len - NLMSG_HDRLEN).order(ByteOrder.nativeOrder());
            payload.put(0, data, pos + NLMSG_HDRLEN, len - NLMSG_HDRLEN);
            out.add(new Netlink.Message(type, flags, seq, payload));
            pos += Netlink.align(len);
        }
        return out;
    }

    /**
     * The kernel's explanation in an NLMSG_ERROR, if any: after the errno comes the request's own
     * header, its body unless capped, then the extended-ack attributes.
     */
    static String extAck(Netlink.Message error) {
        if ((error.flags() & Netlink.NLM_F_ACK_TLVS) == 0 || error.payload().limit() < 4 + NLMSG_HDRLEN) {
            return "";
        }
        int echoed = (error.flags() & Netlink.NLM_F_CAPPED) != 0 ? NLMSG_HDRLEN : Netlink.align(error.u32(4));
        int offset = 4 + echoed;
        if (offset > error.payload().limit()) {
            return "";
        }
        ByteBuffer text = Netlink.parseAttributes(error.payload(), offset).get(Netlink.NLMSGERR_ATTR_MSG);
        if (text == null) {
            return "";
        }
        byte[] bytes = new byte[text.remaining()];
        text.duplicate().get(bytes);
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }

    private void setOptionQuietly(int level, int option, int value) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            int unused = (int) LibcHandles.setsockopt$mh.invokeExact(state, fd, level, option,
                    arena.allocateFrom(JAVA_INT, value), (int) JAVA_INT.byteSize());
        } catch (Throwable t) {
            throw new LinkageError("calling setsockopt", t);
        }
    }

    private void setReceiveTimeout() throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            // struct timeval { time_t tv_sec; suseconds_t tv_usec; }, both 64-bit on LP64
            MemorySegment timeval = arena.allocate(16, 8);
            timeval.set(JAVA_LONG, 0, RECEIVE_TIMEOUT_SECONDS);
            timeval.set(JAVA_LONG, 8, 0L);
            int rc = (int) LibcHandles.setsockopt$mh.invokeExact(state, fd, SOL_SOCKET, SO_RCVTIMEO, timeval,
                    (int) timeval.byteSize());
            if (rc < 0) {
                throw new NativeCallException("setsockopt(fd=" + fd + " netlink, SO_RCVTIMEO="
                        + RECEIVE_TIMEOUT_SECONDS + "s)", LibcHandles.errno(state));
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling setsockopt", t);
        }
    }

    private void ensureOpen(String what) {
        if (closed) {
            throw new IllegalStateException("netlink socket fd=" + fd + " is closed; cannot send " + what);
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            try {
                Libc.close(fd, "netlink");
            } catch (NativeCallException ignored) {
                // close(2) releases the fd even when it reports an error; nothing else to undo
            }
        }
    }
}
