package io.shunt.hijack.tproxy;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the reference tools ({@code ip}, {@code nft}) that the tests compare Shunt's work against. */
final class Commands {
    private Commands() {
    }

    /** {@code ip ARGS}; its output, or an exception with the output when it fails. */
    static String ip(String... args) throws IOException, InterruptedException {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "ip";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Result r = run(List.of(cmd), "");
        if (r.exit != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + r.output);
        }
        return r.output;
    }

    /** {@code ip netns exec NETNS nft -c -f -} with {@code script} on stdin: checks without applying. */
    static Result nftCheck(String netns, String script) throws IOException, InterruptedException {
        return run(List.of("ip", "netns", "exec", netns, "nft", "-c", "-f", "-"), script);
    }

    record Result(int exit, String output) {
    }

    private static Result run(List<String> cmd, String stdin) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " did not finish within 10 s");
        }
        return new Result(p.exitValue(), out);
    }
}
