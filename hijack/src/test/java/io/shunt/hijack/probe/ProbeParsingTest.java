package io.shunt.hijack.probe;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The text the probe reads from the host: mountinfo, iptables -V, nft's errors. */
class ProbeParsingTest {

    @Test
    void mountinfoGivesTypesAndMountPointsWhateverTheOptionalFields() {
        String mountinfo = """
                24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
                31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
                32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
                41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 master:3 - cgroup2 cgroup2 rw
                77 24 0:40 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime - bpf bpf rw,mode=700
                78 24 0:41 / /run/shunt\\040bpf rw,relatime - bpf none rw
                not a mountinfo line
                """;
        List<MountInfo> mounts = MountInfo.parse(mountinfo);
        assertEquals(6, mounts.size());
        assertEquals(List.of(Path.of("/sys/fs/cgroup/unified")), MountInfo.ofType(mounts, "cgroup2"));
        assertEquals(List.of(Path.of("/sys/fs/bpf"), Path.of("/run/shunt bpf")), MountInfo.ofType(mounts, "bpf"));
        assertEquals(List.of(Path.of("/sys/fs/cgroup/cpu")), MountInfo.ofType(mounts, "cgroup"));
    }

    @Test
    void octalEscapesAreDecodedOnlyWhenComplete() {
        assertEquals("a b\tc\\d", MountInfo.unescape("a\\040b\\011c\\134d"));
        assertEquals("tail\\04", MountInfo.unescape("tail\\04"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "iptables v1.8.9 (nf_tables)|NF_TABLES",
            "iptables v1.8.7 (legacy)|LEGACY",
            "iptables v1.6.1|LEGACY",
            "iptables v1.4.21|LEGACY",
            "iptables v1.8.4|UNKNOWN",
            "iptables v1.8.9 (something-new)|UNKNOWN",
            "command not found|UNKNOWN",
    })
    void iptablesVersionOutput(String output, IptablesFlavour expected) {
        assertEquals(expected, IptablesFlavour.fromVersionOutput(output + "\n"));
    }

    @Test
    void nftErrorsKeepTheErrorLinesOnly() {
        String nft = """
                /dev/stdin:4:3-47: Error: Could not process rule: Operation not supported
                \t\tmeta l4proto tcp tproxy ip to 127.0.0.1:15001
                \t\t^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
                """;
        assertEquals("Could not process rule: Operation not supported", NftProbes.errors(nft));
        assertEquals("something odd", NftProbes.errors("  something odd \n"));
    }
}
