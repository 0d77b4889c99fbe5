package io.shunt.ffi.bpf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A bpffs of the test's own at {@code /tmp/shunt-bpffs-*}: mounted on creation; on close
 * unmounted (dropping any pin a failed test left), its folder removed, and both checked.
 */
final class TestBpffs implements AutoCloseable {
    final Path root;

    TestBpffs() throws IOException {
        root = Files.createTempDirectory(Path.of("/tmp"), "shunt-bpffs-");
        boolean mounted = false;
        try {
            if (!Bpffs.ensureMounted(root)) {
                throw new IllegalStateException(root + " was on a bpffs before the test mounted one");
            }
            mounted = true;
        } finally {
            if (!mounted) {
                Files.delete(root);
            }
        }
    }

    @Override
    public void close() throws IOException {
        Bpffs.unmount(root);
        if (Bpffs.isBpffs(root)) {
            throw new IOException(root + " is still on a bpffs after unmounting");
        }
        Files.delete(root);
    }
}
