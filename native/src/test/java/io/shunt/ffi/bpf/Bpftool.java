package io.shunt.ffi.bpf;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bpftool} as the tests' independent witness of what is in the kernel: which programs and
 * maps exist, what is attached to a cgroup or to the interfaces of a namespace. Shunt never runs
 * it. Objects are recognised by id, not by name, because other test runs on the same host load
 * programs with the same names at the same time.
 */
final class Bpftool {
    private static final Pattern LISTED = Pattern.compile("^(\\d+): \\S+\\s+name (\\S+)", Pattern.MULTILINE);

    record Result(int exit, String output) {
    }

    private Bpftool() {
    }

    static Result run(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add("bpftool");
        command.addAll(List.of(args));
        return exec(command);
    }

    /** Runs bpftool inside the network namespace at {@code netnsPath} ({@code nsenter --net=}). */
    static Result inNetns(String netnsPath, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("nsenter", "--net=" + netnsPath, "bpftool"));
        command.addAll(List.of(args));
        return exec(command);
    }

    static boolean programExists(int id) throws IOException, InterruptedException {
        return run("prog", "show", "id", Integer.toString(id)).exit() == 0;
    }

    static boolean mapExists(int id) throws IOException, InterruptedException {
        return run("map", "show", "id", Integer.toString(id)).exit() == 0;
    }

    /**
     * Whether program {@code id} is gone within 5 s. The kernel frees programs and maps after an
     * RCU grace period or from a work queue, so an id can outlive the last fd for a moment.
     */
    static boolean programGone(int id) throws IOException, InterruptedException {
        return awaitGone(() -> programExists(id));
    }

    static boolean mapGone(int id) throws IOException, InterruptedException {
        return awaitGone(() -> mapExists(id));
    }

    private interface Check {
        boolean exists() throws IOException, InterruptedException;
    }

    private static boolean awaitGone(Check check) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (check.exists()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(50);
        }
        return true;
    }

    /** Ids of the programs whose kernel name (first 15 characters) is {@code name}. */
    static Set<Integer> programIds(String name) throws IOException, InterruptedException {
        return ids(run("prog", "show").output(), name);
    }

    static Set<Integer> mapIds(String name) throws IOException, InterruptedException {
        return ids(run("map", "show").output(), name);
    }

    /** What {@code bpftool cgroup show DIR} lists: one line per attached program, after a header. */
    static String cgroupShow(String dir) throws IOException, InterruptedException {
        Result r = run("cgroup", "show", dir);
        if (r.exit() != 0) {
            throw new IOException("bpftool cgroup show " + dir + " failed: " + r.output());
        }
        return r.output();
    }

    private static Set<Integer> ids(String listing, String name) {
        String kernelName = name.length() > 15 ? name.substring(0, 15) : name;
        Set<Integer> out = new TreeSet<>();
        Matcher m = LISTED.matcher(listing);
        while (m.find()) {
            if (m.group(2).equals(kernelName) || m.group(2).equals(name)) {
                out.add(Integer.parseInt(m.group(1)));
            }
        }
        return out;
    }

    private static Result exec(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + " did not finish within 30 s");
        }
        return new Result(p.exitValue(), out);
    }
}
