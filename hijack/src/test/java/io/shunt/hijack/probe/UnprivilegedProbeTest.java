package io.shunt.hijack.probe;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The probe in a JVM without CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (capsh drops
 * them from the bounding set): every attempt that needs them fails with EPERM, and such a probe
 * must report inconclusive, never supported and never unsupported. libbpf 1.1's helper probe
 * would say "available" here; the probe must not.
 */
class UnprivilegedProbeTest {
    private static final Path CAPSH = Path.of("/usr/sbin/capsh");
    private static String output;
    private static final Map<String, String> labels = new HashMap<>();

    @BeforeAll
    static void probeWithoutPrivileges() throws Exception {
        assumeTrue(Files.isExecutable(CAPSH), "capsh (libcap2-bin) is not installed");
        String java = ProcessHandle.current().info().command().orElseThrow();
        output = ProbeHost.run(List.of(CAPSH.toString(), "--drop=cap_sys_admin,cap_bpf,cap_perfmon,cap_net_admin",
                "--", "-c", "exec \"$@\"", "probe",
                java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                ProbeMain.class.getName()).toArray(String[]::new));
        for (String line : output.lines().toList()) {
            String[] f = line.split("\t");
            if (f.length == 3 && f[0].equals("RESULT")) {
                labels.put(f[1], f[2]);
            }
        }
        System.out.println(output);
        assertEquals(Feature.values().length, labels.size(), output);
    }

    static Stream<Feature> needPrivilege() {
        return Arrays.stream(Feature.values()).filter(f -> f == Feature.BPF || f == Feature.NFTABLES
                || f == Feature.POLICY_ROUTING || f.requires().isPresent());
    }

    @ParameterizedTest
    @MethodSource("needPrivilege")
    void anAttemptThePermissionsStopIsInconclusive(Feature feature) {
        assertEquals("inconclusive", labels.get(feature.id()), output);
    }

    @Test
    void theCauseKeepsTheErrno() {
        String bpfLine = output.lines().filter(l -> l.startsWith("bpf ")).findFirst().orElseThrow();
        assertTrue(bpfLine.contains("EPERM (Operation not permitted)"), bpfLine);
        String nftLine = output.lines().filter(l -> l.startsWith("nftables ")).findFirst().orElseThrow();
        assertTrue(nftLine.contains("unshare(CLONE_NEWNET)") && nftLine.contains("EPERM"), nftLine);
    }

    @ParameterizedTest
    @EnumSource(names = {"IO_URING", "BTF", "CGROUP_V2"})
    void whatNeedsNoPrivilegeIsStillFound(Feature feature) {
        assertEquals("supported", labels.get(feature.id()), output);
    }
}
