package io.shunt.hijack.probe;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Read-only views of host state the probe tests compare before and after. */
final class ProbeHost {
    private ProbeHost() {
    }

    /** What {@code ip netns list} prints. */
    static String namedNetns() throws IOException, InterruptedException {
        return run("ip", "netns", "list");
    }

    /** The fds of this process that are network namespace handles, e.g. {@code net:[4026531840]}. */
    static List<String> netnsFds() throws IOException {
        List<String> out = new ArrayList<>();
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.startsWith("net:[")) {
                        out.add(target);
                    }
                } catch (IOException ignored) {
                    // fds come and go while we list them
                }
            }
        }
        return out.stream().sorted().toList();
    }

    static long currentNetnsInode() throws IOException {
        return (Long) Files.getAttribute(Path.of("/proc/thread-self/ns/net"), "unix:ino");
    }

    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " did not finish within 30 s");
        }
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " exited with " + p.exitValue() + ": " + out);
        }
        return out;
    }
}
