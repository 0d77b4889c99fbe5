package io.shunt.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/**
 * Replaces a file so that readers and crashes see either the old or the new content, never half
 * of one: the bytes go to a temporary file in the same directory, are forced to disk, and the
 * temporary file is renamed over the old one.
 *
 * <p>The temporary name is hidden and ends in {@code .shunt-tmp}, so a CNI runtime scanning the
 * directory for {@code *.conf}, {@code *.conflist} and {@code *.json} never loads it.
 */
public final class AtomicFile {
    private AtomicFile() {
    }

    public static void replace(Path file, byte[] content, Set<PosixFilePermission> permissions) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = parent.resolve("." + file.getFileName() + ".shunt-tmp");
        try {
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                out.write(ByteBuffer.wrap(content));
                out.force(true);
            }
            Files.setPosixFilePermissions(tmp, permissions);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot replace " + file + " atomically; it must be on a local filesystem", e);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
