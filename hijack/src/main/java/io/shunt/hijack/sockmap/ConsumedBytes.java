package io.shunt.hijack.sockmap;

import io.shunt.ffi.bpf.BpfMap;
import io.shunt.ffi.libc.SocketOptions;
import io.shunt.hijack.tc.TcMaps;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * Writes into {@code shunt_sm_consumed} how many bytes the proxy has read from each of its
 * accepted sockets: the window of shunt_sm_msg (shunt_sockmap.h, SHUNT_SM_WINDOW) opens as the
 * proxy reads, so an app can never queue more than the window in a proxy that stopped reading.
 * The engine calls it on the connection's event loop (ReadCredit in proxy-engine).
 */
public final class ConsumedBytes {
    private final Path pin;

    ConsumedBytes(Path pin) {
        this.pin = pin;
    }

    /** The writer for one accepted socket; nothing is opened before its first report. */
    public Writer open(int fd, InetSocketAddress local, InetSocketAddress remote) {
        return new Writer(fd, local, remote);
    }

    /** One accepted socket's entry. */
    public final class Writer {
        private final int fd;
        private final InetSocketAddress local;
        private final InetSocketAddress remote;
        private BpfMap map;
        private byte[] key;

        private Writer(int fd, InetSocketAddress local, InetSocketAddress remote) {
            this.fd = fd;
            this.local = local;
            this.remote = remote;
        }

        /** The proxy has read {@code total} bytes from this socket so far. */
        public void read(long total) throws IOException {
            if (map == null) {
                if (!(local.getAddress() instanceof Inet4Address l) || !(remote.getAddress() instanceof Inet4Address r)) {
                    throw new IOException("not an IPv4 connection: " + local + " <- " + remote);
                }
                key = key(SocketOptions.netnsCookie(fd), l, local.getPort(), r, remote.getPort());
                map = BpfMap.openPinned(pin);
            }
            map.update(key, TcMaps.u64(total), BpfMap.Update.ANY);
        }

        /** The connection ended; the kernel drops the entry when the socket closes (sockops). */
        public void close() {
            if (map != null) {
                map.close();
                map = null;
            }
        }
    }

    /** struct shunt_sm_key as the accepted socket sees itself: local = the listener, remote = the app. */
    static byte[] key(long netnsCookie, Inet4Address local, int localPort, Inet4Address remote, int remotePort) {
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.nativeOrder()).putLong(netnsCookie);
        b.put(local.getAddress()).put(remote.getAddress());
        return b.putShort((short) localPort).putShort((short) remotePort).putInt(0).array();
    }
}
