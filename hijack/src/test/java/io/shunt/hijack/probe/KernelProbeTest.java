package io.shunt.hijack.probe;

import io.shunt.ffi.bpf.BpftoolFeatures;
import io.shunt.ffi.nft.Nftables;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The probe against this host's kernel. Oracles are independent where one exists: bpftool for the
 * BPF features, /proc/mounts for bpffs, the JVM's os.version for the release. The nftables,
 * io_uring and cgroup expectations are facts of this project's hosts (shared/DESIGN.md).
 */
class KernelProbeTest {
    private static KernelFeatures features;
    private static BpftoolFeatures bpftool;

    @BeforeAll
    static void probe() throws Exception {
        features = KernelProbe.run();
        System.out.println(features.describe());
        bpftool = BpftoolFeatures.probeKernel();
    }

    static Stream<Feature> bpfFeatures() {
        return Arrays.stream(Feature.values())
                .filter(f -> f == Feature.BPF || f.requires().orElse(null) == Feature.BPF);
    }

    @ParameterizedTest
    @MethodSource("bpfFeatures")
    void bpfFeatureAgreesWithBpftool(Feature feature) {
        boolean bpftoolSays = switch (feature) {
            case BPF -> bpftool.syscall();
            case BPF_CGROUP_SOCK_ADDR -> bpftool.progType("cgroup_sock_addr");
            case BPF_SOCK_OPS -> bpftool.progType("sock_ops") && bpftool.helper("sock_ops", "bpf_sock_hash_update");
            case BPF_SK_MSG -> bpftool.progType("sk_msg") && bpftool.helper("sk_msg", "bpf_msg_redirect_hash");
            case BPF_SOCKHASH -> bpftool.mapType("sockhash");
            case BPF_SCHED_CLS -> bpftool.progType("sched_cls");
            case BPF_SK_ASSIGN -> bpftool.progType("sched_cls") && bpftool.helper("sched_cls", "bpf_sk_assign");
            case BPF_SK_LOOKUP -> bpftool.progType("sk_lookup") && bpftool.helper("sk_lookup", "bpf_sk_assign");
            default -> throw new IllegalArgumentException("no bpftool oracle for " + feature.id() + ": add one");
        };
        ProbeResult result = features.result(feature);
        assertEquals(bpftoolSays, features.has(feature), feature.id() + ": " + result);
        if (!bpftoolSays) {
            assertInstanceOf(ProbeResult.Unsupported.class, result, "as root, a feature bpftool lacks is unsupported");
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"NFTABLES", "NFT_REDIRECT", "NFT_TPROXY", "NFT_SOCKET"})
    void nftablesFeaturesAreSupportedHereAndWereTriedInAScratchNetns(Feature feature) {
        ProbeResult result = features.result(feature);
        assertInstanceOf(ProbeResult.Supported.class, result, feature.id() + ": " + result);
        assertTrue(result.text().contains("applied in a scratch netns (inode "), result.text());
    }

    @Test
    void ioUringIsSupportedHere() {
        assertInstanceOf(ProbeResult.Supported.class, features.result(Feature.IO_URING), features.describe());
    }

    @Test
    void cgroupV2IsTheUnifiedHierarchyOfHybridMode() {
        assertEquals(Optional.of(Path.of("/sys/fs/cgroup/unified")), features.cgroup2Mount());
        assertEquals(new ProbeResult.Supported("cgroup2 mounted at /sys/fs/cgroup/unified (hybrid mode: cgroup v1 "
                + "hierarchies are mounted too)"), features.result(Feature.CGROUP_V2));
    }

    @Test
    void bpffsMountsAreThoseProcMountsLists() throws Exception {
        List<Path> mounted = Files.readAllLines(Path.of("/proc/mounts")).stream().map(l -> l.split(" "))
                .filter(f -> f[2].equals("bpf")).map(f -> Path.of(f[1].replace("\\040", " "))).toList();
        assertEquals(mounted, features.bpffsMounts());
        if (mounted.isEmpty()) {
            assertEquals(new ProbeResult.Unsupported("no bpffs mounted; Shunt will mount its own when a BPF technique "
                    + "needs it"), features.result(Feature.BPFFS));
        } else {
            assertTrue(features.has(Feature.BPFFS), features.result(Feature.BPFFS).toString());
        }
    }

    @Test
    void btfIsWhatTheKernelExports() {
        assertEquals(Files.isReadable(Path.of("/sys/kernel/btf/vmlinux")), features.has(Feature.BTF),
                features.result(Feature.BTF).toString());
    }

    @Test
    void policyRoutingIsProbedByAddingAndReadingBackARuleAndARoute() {
        ProbeResult result = features.result(Feature.POLICY_ROUTING);
        assertTrue(result instanceof ProbeResult.Supported, result.toString());
        assertTrue(result.toString().contains("added and read back in a scratch netns"), result.toString());
    }

    @Test
    void releaseIsTheRunningKernel() {
        assertEquals(System.getProperty("os.version"), features.kernelRelease());
    }

    @Test
    void iptablesFlavourIsWhatTheBinarySays() throws Exception {
        Optional<Path> binary = KernelProbe.findOnPath("iptables");
        IptablesFlavour expected = binary.isEmpty() ? IptablesFlavour.ABSENT
                : IptablesFlavour.fromVersionOutput(ProbeHost.run(binary.get().toString(), "-V"));
        assertEquals(expected, features.iptables());
        assertNotEquals(IptablesFlavour.UNKNOWN, features.iptables());
    }

    @Test
    void describeNamesEveryFeature() {
        String table = features.describe();
        for (Feature f : Feature.values()) {
            assertTrue(table.lines().anyMatch(l -> l.startsWith(f.id() + " ")), f.id() + " missing from\n" + table);
        }
    }

    @Test
    void probingLeavesNoNamespaceRuleOrHandleBehind() throws Exception {
        String netnsBefore = ProbeHost.namedNetns();
        String rootRulesBefore = Nftables.run("list ruleset");
        List<String> handlesBefore = ProbeHost.netnsFds();
        long home = ProbeHost.currentNetnsInode();

        KernelFeatures again = KernelProbe.run();

        assertEquals(netnsBefore, ProbeHost.namedNetns());
        assertEquals(rootRulesBefore, Nftables.run("list ruleset"));
        assertEquals(handlesBefore, ProbeHost.netnsFds(), "a scratch netns handle leaked");
        assertEquals(home, ProbeHost.currentNetnsInode(), "the probe left the calling thread in another netns");
        assertEquals(features.bpffsMounts(), again.bpffsMounts(), "the probe mounted a bpffs");
        for (Feature f : Feature.values()) {
            assertEquals(features.result(f).label(), again.result(f).label(), f.id() + " changed between two probes");
        }
    }
}
