package io.shunt.kerneltests;

import io.shunt.ffi.bpf.Bpffs;
import io.shunt.hijack.tc.TcHijacker;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The tc technique pins under the bpffs the kernel tests give it ({@code SHUNT_TC_BPFFS} in the
 * module's surefire configuration), which the first tc install mounts. When the test run ends,
 * the empty folders Shunt left there and the mount itself go. Pins that are still there mean a
 * test leaked a pod's BPF state: then nothing is removed and the run says so.
 */
public final class TcBpffsCleanup implements LauncherSessionListener {
    @Override
    public void launcherSessionClosed(LauncherSession session) {
        Path root = TcHijacker.configuredBpffs();
        if (root.equals(TcHijacker.DEFAULT_BPFFS) || !Files.isDirectory(root)) {
            return; // never touch the host agent's bpffs
        }
        try {
            if (!Bpffs.isBpffs(root)) {
                return;
            }
            // one folder per technique (tc, sockmap, sockmap-inbound); each must be empty by now
            Path shunt = root.resolve("shunt");
            List<Path> techniques;
            try (Stream<Path> listed = Files.exists(shunt) ? Files.list(shunt) : Stream.empty()) {
                techniques = listed.toList();
            }
            for (Path technique : techniques) {
                try (Stream<Path> left = Files.list(technique)) {
                    var pins = left.toList();
                    if (!pins.isEmpty()) {
                        System.err.println("TcBpffsCleanup: pins left under " + technique + " (a test leaked them): "
                                + pins + "; leaving " + root + " mounted for inspection");
                        return;
                    }
                }
            }
            for (Path technique : techniques) {
                Files.deleteIfExists(technique);
            }
            Files.deleteIfExists(shunt);
            Bpffs.unmount(root);
            Files.deleteIfExists(root);
        } catch (IOException e) {
            System.err.println("TcBpffsCleanup: could not clean up " + root + ": " + e);
        }
    }
}
