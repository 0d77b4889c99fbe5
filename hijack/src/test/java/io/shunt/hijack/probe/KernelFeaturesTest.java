package io.shunt.hijack.probe;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The feature ids, the result record and its masking and rendering, without a kernel. */
class KernelFeaturesTest {

    private static KernelFeatures allSupported() {
        Map<Feature, ProbeResult> results = new EnumMap<>(Feature.class);
        for (Feature f : Feature.values()) {
            results.put(f, new ProbeResult.Supported("probed " + f.id()));
        }
        return new KernelFeatures("6.1.0-test", results, Optional.of(Path.of("/sys/fs/cgroup")),
                List.of(Path.of("/sys/fs/bpf")), IptablesFlavour.NF_TABLES);
    }

    @Test
    void idsAreTheStableCommandLineWords() {
        Map<Feature, String> expected = new EnumMap<>(Feature.class);
        expected.put(Feature.NFTABLES, "nftables");
        expected.put(Feature.NFT_REDIRECT, "nft-redirect");
        expected.put(Feature.NFT_TPROXY, "tproxy");
        expected.put(Feature.NFT_SOCKET, "nft-socket");
        expected.put(Feature.POLICY_ROUTING, "policy-routing");
        expected.put(Feature.BPF, "bpf");
        expected.put(Feature.BPF_CGROUP_SOCK_ADDR, "bpf-cgroup-sock-addr");
        expected.put(Feature.BPF_SOCK_OPS, "bpf-sock-ops");
        expected.put(Feature.BPF_SK_MSG, "bpf-sk-msg");
        expected.put(Feature.BPF_SOCKHASH, "bpf-sockhash");
        expected.put(Feature.BPF_SCHED_CLS, "bpf-sched-cls");
        expected.put(Feature.BPF_SK_ASSIGN, "bpf-sk-assign");
        expected.put(Feature.BPF_SK_LOOKUP, "bpf-sk-lookup");
        expected.put(Feature.BTF, "btf");
        expected.put(Feature.CGROUP_V2, "cgroup-v2");
        expected.put(Feature.BPFFS, "bpffs");
        expected.put(Feature.IO_URING, "io-uring");
        assertEquals(Set.of(Feature.values()), expected.keySet());
        for (Feature f : Feature.values()) {
            assertEquals(expected.get(f), f.id());
        }
    }

    @ParameterizedTest
    @EnumSource(Feature.class)
    void fromIdFindsEachFeature(Feature f) {
        assertEquals(f, Feature.fromId(f.id()));
        assertTrue(f.id().matches("[a-z0-9]+(-[a-z0-9]+)*"), f.id());
    }

    @Test
    void fromIdRejectsAnUnknownIdAndListsTheKnownOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Feature.fromId("TPROXY"));
        assertTrue(e.getMessage().startsWith("unknown kernel feature 'TPROXY'; known features: nftables, nft-redirect, "
                + "tproxy,"), e.getMessage());
    }

    @Test
    void assumeMissingMasksWithTheReasonAndLeavesTheRestAndTheOriginal() {
        KernelFeatures probed = allSupported();
        KernelFeatures masked = probed.assumeMissing(Set.of(Feature.NFT_TPROXY, Feature.IO_URING));
        assertEquals(new ProbeResult.Unsupported("masked by --assume-missing=tproxy: simulating a kernel without it"),
                masked.result(Feature.NFT_TPROXY));
        assertEquals(new ProbeResult.Unsupported("masked by --assume-missing=io-uring: simulating a kernel without it"),
                masked.result(Feature.IO_URING));
        assertFalse(masked.has(Feature.NFT_TPROXY));
        for (Feature f : Feature.values()) {
            if (f != Feature.NFT_TPROXY && f != Feature.IO_URING) {
                assertEquals(probed.result(f), masked.result(f), f.id());
            }
        }
        assertTrue(probed.has(Feature.NFT_TPROXY), "the original must not change");
        assertEquals(probed.kernelRelease(), masked.kernelRelease());
        assertEquals(probed.cgroup2Mount(), masked.cgroup2Mount());
        assertEquals(probed.bpffsMounts(), masked.bpffsMounts());
    }

    @Test
    void maskingABaseFeatureMasksWhatNeedsIt() {
        KernelFeatures masked = allSupported().assumeMissing(Set.of(Feature.BPF));
        assertEquals(new ProbeResult.Unsupported("masked by --assume-missing=bpf: simulating a kernel without it"),
                masked.result(Feature.BPF));
        assertEquals(new ProbeResult.Unsupported("masked by --assume-missing=bpf: simulating a kernel without bpf, "
                + "which bpf-sk-msg needs"), masked.result(Feature.BPF_SK_MSG));
        Set<Feature> lost = new HashSet<>();
        for (Feature f : Feature.values()) {
            if (!masked.has(f)) {
                lost.add(f);
            }
        }
        assertEquals(Set.of(Feature.BPF, Feature.BPF_CGROUP_SOCK_ADDR, Feature.BPF_SOCK_OPS, Feature.BPF_SK_MSG,
                Feature.BPF_SOCKHASH, Feature.BPF_SCHED_CLS, Feature.BPF_SK_ASSIGN, Feature.BPF_SK_LOOKUP), lost);

        KernelFeatures noNft = allSupported().assumeMissing(Set.of(Feature.NFTABLES, Feature.NFT_TPROXY));
        assertEquals(new ProbeResult.Unsupported("masked by --assume-missing=tproxy: simulating a kernel without it"),
                noNft.result(Feature.NFT_TPROXY), "a feature named itself gets its own reason");
        assertFalse(noNft.has(Feature.NFT_REDIRECT));
        assertTrue(noNft.has(Feature.POLICY_ROUTING));
    }

    @Test
    void maskingMountedFeaturesDropsTheirMounts() {
        KernelFeatures masked = allSupported().assumeMissing(Set.of(Feature.CGROUP_V2, Feature.BPFFS));
        assertEquals(Optional.empty(), masked.cgroup2Mount());
        assertEquals(List.of(), masked.bpffsMounts());
    }

    @Test
    void inconclusiveIsNotHad() {
        Map<Feature, ProbeResult> results = new EnumMap<>(allSupported().results());
        results.put(Feature.BPF, new ProbeResult.Inconclusive("EPERM"));
        KernelFeatures f = new KernelFeatures("k", results, Optional.empty(), List.of(), IptablesFlavour.ABSENT);
        assertFalse(f.has(Feature.BPF));
        assertEquals("inconclusive", f.result(Feature.BPF).label());
    }

    @Test
    void everyFeatureNeedsAResultAndTheResultsCannotChange() {
        Map<Feature, ProbeResult> results = new EnumMap<>(allSupported().results());
        results.remove(Feature.BTF);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                new KernelFeatures("k", results, Optional.empty(), List.of(), IptablesFlavour.ABSENT));
        assertEquals("no probe result for feature btf", e.getMessage());
        KernelFeatures f = allSupported();
        assertThrows(UnsupportedOperationException.class, () -> f.results().put(Feature.BTF, new ProbeResult.Inconclusive("x")));
        assertEquals(List.of(Feature.values()), List.copyOf(f.results().keySet()));
    }

    @Test
    void describeRendersOneAlignedRowPerFeature() {
        Map<Feature, ProbeResult> results = new EnumMap<>(allSupported().results());
        results.put(Feature.NFT_TPROXY, new ProbeResult.Unsupported("nft: Operation not supported\nsecond line"));
        results.put(Feature.POLICY_ROUTING, new ProbeResult.Inconclusive("not probed yet"));
        String table = new KernelFeatures("6.1.0-test", results, Optional.empty(), List.of(),
                IptablesFlavour.LEGACY).describe();
        List<String> lines = table.lines().toList();
        assertTrue(lines.contains("kernel      6.1.0-test"), table);
        assertTrue(lines.contains("cgroup v2   not mounted"), table);
        assertTrue(lines.contains("bpffs       not mounted"), table);
        assertTrue(lines.contains("iptables    legacy"), table);
        assertTrue(lines.contains("FEATURE               RESULT        DETAIL"), table);
        assertTrue(lines.contains("tproxy                unsupported   nft: Operation not supported"), table);
        assertTrue(lines.contains(" ".repeat(36) + "second line"), table);
        assertTrue(lines.contains("policy-routing        inconclusive  not probed yet"), table);
        assertTrue(lines.contains("bpf-cgroup-sock-addr  supported     probed bpf-cgroup-sock-addr"), table);
        for (Feature f : Feature.values()) {
            assertTrue(lines.stream().anyMatch(l -> l.startsWith(f.id() + " ")), f.id() + " missing from\n" + table);
        }
        assertEquals(table, new KernelFeatures("6.1.0-test", results, Optional.empty(), List.of(),
                IptablesFlavour.LEGACY).toString());
    }
}
