package io.shunt.ffi;

import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finds the fd behind a connected JDK socket channel by matching its inode in /proc/self/fd. */
final class RawFd {
    static int of(SocketChannel ch) throws Exception {
        var local = (java.net.InetSocketAddress) ch.getLocalAddress();
        String hexPort = String.format("%04X", local.getPort());
        String inode = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/net/tcp"))) {
            String[] f = line.trim().split("\\s+");
            if (f[1].endsWith(":" + hexPort) && f[3].equals("01")) {
                inode = f[9];
            }
        }
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    if (Files.readSymbolicLink(fd).toString().equals("socket:[" + inode + "]")) {
                        return Integer.parseInt(fd.getFileName().toString());
                    }
                } catch (java.io.IOException ignored) {
                    // fds come and go while we list them
                }
            }
        }
        throw new IllegalStateException("no fd found for " + local);
    }
}
