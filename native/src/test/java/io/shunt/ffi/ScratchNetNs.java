package io.shunt.ffi;

import io.shunt.ffi.netns.NetNs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway named network namespace for one test, with an open handle on it; closing releases
 * the handle, deletes the namespace and checks that it is gone.
 */
public final class ScratchNetNs implements AutoCloseable {
    public final String name;
    public final NetNs netns;

    public ScratchNetNs(String purpose) throws IOException, InterruptedException {
        this.name = "shunt-ut-" + purpose + "-" + ProcessHandle.current().pid();
        ip("netns", "add", name);
        try {
            this.netns = NetNs.open(path());
        } catch (IOException | RuntimeException e) {
            ip("netns", "del", name);
            throw e;
        }
    }

    public Path path() {
        return Path.of("/var/run/netns", name);
    }

    @Override
    public void close() throws IOException {
        netns.close();
        try {
            ip("netns", "del", name);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while deleting netns " + name, e);
        }
        if (Files.exists(path())) {
            throw new IOException("netns " + name + " still exists after ip netns del");
        }
    }

    public static void ip(String... args) throws IOException, InterruptedException {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "ip";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }
}
