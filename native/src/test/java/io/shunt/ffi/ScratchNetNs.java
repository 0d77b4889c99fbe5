package io.shunt.ffi;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A throwaway named network namespace for one test, removed on close. */
final class ScratchNetNs implements AutoCloseable {
    final String name;

    ScratchNetNs(String purpose) throws IOException, InterruptedException {
        this.name = "shunt-ut-" + purpose + "-" + ProcessHandle.current().pid();
        ip("netns", "add", name);
    }

    Path path() {
        return Path.of("/var/run/netns", name);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        ip("netns", "del", name);
    }

    static void ip(String... args) throws IOException, InterruptedException {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "ip";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }
}
