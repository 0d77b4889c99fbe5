package io.shunt.ffi;

import io.shunt.ffi.libc.NativeCallException;
import io.shunt.ffi.libc.SocketOptions;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SocketOptionsTest {


    @Test
    void marksTransparencyAndCookiesOnARealSocket() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.INET).bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(StandardProtocolFamily.INET)) {
            client.connect(server.getLocalAddress());
            int fd = RawFd.of(client);
            SocketOptions.setMark(fd, 0x5348);
            assertEquals(0x5348, SocketOptions.mark(fd));
            SocketOptions.setTransparent(fd, true);
            assertTrue(SocketOptions.transparent(fd));
            assertNotEquals(0L, SocketOptions.cookie(fd));
            assertNotEquals(0L, SocketOptions.netnsCookie(fd));

            // Not NATed: the kernel has no original destination, and the error says which call and fd.
            NativeCallException e = assertThrows(NativeCallException.class, () -> SocketOptions.originalDestination(fd));
            assertEquals("ENOENT", e.errnoName());
            assertTrue(e.getMessage().startsWith("getsockopt(fd=" + fd + ", SOL_IP, SO_ORIGINAL_DST) failed: ENOENT"),
                    e.getMessage());
        }
    }

    @Test
    void errorsNameTheCallTheInputAndTheErrno() {
        NativeCallException e = assertThrows(NativeCallException.class, () -> SocketOptions.setMark(-1, 1));
        assertEquals("setsockopt(fd=-1, SO_MARK=0x1) failed: EBADF (Bad file descriptor)", e.getMessage());
    }
}
