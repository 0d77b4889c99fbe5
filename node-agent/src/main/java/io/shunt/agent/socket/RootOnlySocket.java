package io.shunt.agent.socket;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The file of one of the agent's local sockets (CNI, admin): a root-only directory, no second
 * agent on the same path, a stale file from a crashed agent replaced, and on close only our own
 * file removed.
 */
public final class RootOnlySocket {
    private static final Logger LOG = LoggerFactory.getLogger(RootOnlySocket.class);
    public static final Set<PosixFilePermission> DIRECTORY_MODE = PosixFilePermissions.fromString("rwx------");
    public static final Set<PosixFilePermission> SOCKET_MODE = PosixFilePermissions.fromString("rw-------");
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    private static final int BACKLOG = 128;

    private final Path path;
    private final String role;
    /** Device and inode of the file we bound, so close never removes a successor's socket. */
    private final Object fileKey;

    private RootOnlySocket(Path path, String role, Object fileKey) {
        this.path = path;
        this.role = role;
        this.fileKey = fileKey;
    }

    /**
     * Binds a listening channel on {@code path}, creating its parent directory (mode 0700) if
     * missing, replacing a stale socket file, and leaving the socket file with mode 0600. An
     * existing parent directory keeps its mode: when it is not root-only, another user could
     * connect between the bind and the chmod.
     *
     * @param role what the socket is for, in messages: {@code CNI}, {@code admin}
     * @throws BindException when another process answers on {@code path}
     */
    public static Bound bind(Path path, String role) throws IOException {
        Path socket = path.toAbsolutePath().normalize();
        createParent(socket.getParent());
        removeStale(socket, role);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            try {
                server.bind(UnixDomainSocketAddress.of(socket), BACKLOG);
            } catch (IOException e) {
                BindException bind = new BindException("cannot bind the " + role + " socket " + socket + ": " + e.getMessage());
                bind.initCause(e);
                throw bind;
            }
            Files.setPosixFilePermissions(socket, SOCKET_MODE);
            Object key = Files.readAttributes(socket, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            return new Bound(server, new RootOnlySocket(socket, role, key));
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    public record Bound(ServerSocketChannel server, RootOnlySocket file) {
    }

    public Path path() {
        return path;
    }

    /** Removes the socket file if it is still the one we bound; never throws. */
    public void remove() {
        try {
            Object now = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            if (fileKey != null && !Objects.equals(fileKey, now)) {
                LOG.info("left the {} socket {} in place: another agent has bound it since", role, path);
                return;
            }
            Files.deleteIfExists(path);
        } catch (NoSuchFileException e) {
            // already gone
        } catch (IOException e) {
            LOG.warn("could not remove the {} socket {}: {}", role, path, e.toString());
        }
    }

    private static void createParent(Path parent) throws IOException {
        if (Files.isDirectory(parent)) {
            return;
        }
        List<Path> missing = new ArrayList<>();
        for (Path p = parent; p != null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS); p = p.getParent()) {
            missing.add(p);
        }
        Files.createDirectories(parent, PosixFilePermissions.asFileAttribute(DIRECTORY_MODE));
        for (Path created : missing) {
            // the process umask may have narrowed or (if odd) the attribute may not apply: be exact
            Files.setPosixFilePermissions(created, DIRECTORY_MODE);
        }
    }

    private static void removeStale(Path socket, String role) throws IOException {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int mode = (Integer) Files.getAttribute(socket, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new FileAlreadyExistsException(socket.toString(), null,
                    "exists and is not a Unix socket; refusing to replace it with the " + role + " socket");
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            throw new BindException("another Shunt agent already serves " + socket
                    + " (a process accepted a connection there); stop it first");
        } catch (ConnectException refused) {
            LOG.info("removing the stale {} socket {}: nobody listens on it (left by an agent that did not stop cleanly)",
                    role, socket);
            Files.deleteIfExists(socket);
        }
    }
}
