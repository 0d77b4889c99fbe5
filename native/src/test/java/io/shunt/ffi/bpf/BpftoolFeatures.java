package io.shunt.ffi.bpf;

import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@code bpftool feature probe kernel} reports, parsed from its text output: the independent
 * oracle the probe tests compare against. bpftool is a test-only tool; Shunt never runs it.
 *
 * <p>Caveat: bpftool's helper lists come from libbpf's helper probe. Debian 12's bpftool 7.1 uses
 * libbpf 1.1, which on 6.x kernels lists every helper the kernel knows for every program type, so
 * for helpers bpftool confirms only the positive answers.
 */
public record BpftoolFeatures(boolean syscall, Map<String, Boolean> progTypes, Map<String, Boolean> mapTypes,
                              Map<String, Set<String>> helpers) {
    private static final Pattern PROG = Pattern.compile("^eBPF program_type (\\S+) is (NOT )?available$");
    private static final Pattern MAP = Pattern.compile("^eBPF map_type (\\S+) is (NOT )?available$");
    private static final Pattern HELPERS = Pattern.compile("^eBPF helpers supported for program type (\\S+):$");
    private static final Pattern HELPER = Pattern.compile("^\\s+- (\\S+)$");

    /** Runs {@code bpftool feature probe kernel} (60 s at most) and parses what it printed. */
    public static BpftoolFeatures probeKernel() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("bpftool", "feature", "probe", "kernel")
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("bpftool feature probe kernel did not finish within 60 s");
        }
        if (p.exitValue() != 0) {
            throw new IOException("bpftool feature probe kernel exited with " + p.exitValue());
        }
        return parse(new String(out));
    }

    public static BpftoolFeatures parse(String text) {
        Boolean syscall = null;
        Map<String, Boolean> progs = new HashMap<>();
        Map<String, Boolean> maps = new HashMap<>();
        Map<String, Set<String>> helpers = new HashMap<>();
        Set<String> current = null;
        for (String line : text.lines().toList()) {
            Matcher m;
            if (line.equals("bpf() syscall is available")) {
                syscall = true;
            } else if (line.equals("bpf() syscall is NOT available")) {
                syscall = false;
            } else if ((m = PROG.matcher(line)).matches()) {
                progs.put(m.group(1), m.group(2) == null);
            } else if ((m = MAP.matcher(line)).matches()) {
                maps.put(m.group(1), m.group(2) == null);
            } else if ((m = HELPERS.matcher(line)).matches()) {
                current = helpers.computeIfAbsent(m.group(1), k -> new HashSet<>());
                continue;
            } else if (current != null && (m = HELPER.matcher(line)).matches()) {
                current.add(m.group(1));
                continue;
            }
            current = null;
        }
        if (syscall == null || progs.isEmpty() || maps.isEmpty()) {
            throw new IllegalArgumentException("not the output of bpftool feature probe kernel:\n" + text);
        }
        return new BpftoolFeatures(syscall, Map.copyOf(progs), Map.copyOf(maps), Map.copyOf(helpers));
    }

    public boolean progType(String name) {
        return known(progTypes, name, "program_type");
    }

    public boolean mapType(String name) {
        return known(mapTypes, name, "map_type");
    }

    /** Whether bpftool lists {@code helper} for {@code progType}; false when it lists no helpers for the type. */
    public boolean helper(String progType, String helper) {
        return helpers.getOrDefault(progType, Set.of()).contains(helper);
    }

    private static boolean known(Map<String, Boolean> answers, String name, String kind) {
        Boolean answer = answers.get(name);
        if (answer == null) {
            throw new IllegalArgumentException("bpftool printed nothing about " + kind + " " + name);
        }
        return answer;
    }
}
