package io.shunt.ffi.bpf;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The struct layouts the loader writes by hand, against the installed libbpf and kernel headers:
 * a C program compiled here prints {@code sizeof} and {@code offsetof} of each, so a libbpf
 * upgrade that moves a field fails this test instead of corrupting a call.
 */
class LibbpfLayoutTest {
    /** "struct field" → {offset, size}; "struct -" → {0, sizeof}; "const NAME" → {value, 0}. */
    private static final Map<String, long[]> C = new HashMap<>();

    @BeforeAll
    static void measure(@TempDir Path dir) throws Exception {
        Path source = Path.of(LibbpfLayoutTest.class.getResource("libbpf_layout.c").toURI());
        Path binary = dir.resolve("libbpf_layout");
        String output = run(List.of("clang", "-Wall", "-o", binary.toString(), source.toString()));
        assertTrue(Files.isExecutable(binary), "clang produced no binary: " + output);
        for (String line : run(List.of(binary.toString())).lines().toList()) {
            String[] f = line.split(" ");
            C.put(f[0] + " " + f[1], new long[]{Long.parseLong(f[2]), Long.parseLong(f[3])});
        }
    }

    static Stream<StructLayout> layouts() {
        return Stream.of(Libbpf.OPEN_OPTS, Libbpf.TC_HOOK, Libbpf.TC_OPTS, Libbpf.PROG_INFO, Libbpf.MAP_INFO,
                Libbpf.LINK_INFO);
    }

    @ParameterizedTest
    @MethodSource("layouts")
    void layoutMatchesTheHeader(StructLayout layout) {
        String struct = layout.name().orElseThrow();
        long[] size = C.get(struct + " -");
        assertNotNull(size, "the C program did not measure struct " + struct);
        assertEquals(size[1], layout.byteSize(), "sizeof(struct " + struct + ")");
        int named = 0;
        for (MemoryLayout member : layout.memberLayouts()) {
            String field = member.name().orElse(null);
            if (field == null || field.endsWith("_stub")) {
                continue;
            }
            long[] c = C.get(struct + " " + field);
            assertNotNull(c, "the C program did not measure " + struct + "." + field);
            assertEquals(c[0], layout.byteOffset(MemoryLayout.PathElement.groupElement(field)),
                    "offsetof(struct " + struct + ", " + field + ")");
            assertEquals(c[1], member.byteSize(), "sizeof(" + struct + "." + field + ")");
            named++;
        }
        assertTrue(named >= 3, struct + " names too few fields to be worth checking");
    }

    @Test
    void constantsMatchTheHeader() {
        assertEquals(C.get("const BPF_TC_INGRESS")[0], Libbpf.BPF_TC_INGRESS);
        assertEquals(C.get("const BPF_TC_EGRESS")[0], Libbpf.BPF_TC_EGRESS);
        assertEquals(C.get("const BPF_LINK_TYPE_CGROUP")[0], BpfLink.TYPE_CGROUP);
    }

    private static String run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", command) + " failed:\n" + out);
        }
        return out;
    }
}
