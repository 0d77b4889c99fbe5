package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.NativeCallException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The BPF probes against this kernel, with {@code bpftool feature probe kernel} as the oracle. */
class BpfProbesTest {
    private static BpftoolFeatures bpftool;

    @BeforeAll
    static void askBpftool() throws Exception {
        bpftool = BpftoolFeatures.probeKernel();
    }

    @ParameterizedTest
    @EnumSource(BpfProgType.class)
    void progTypeAgreesWithBpftool(BpfProgType type) throws Exception {
        BpfProbeAnswer answer = BpfProbes.progType(type);
        assertEquals(bpftool.progType(type.bpftoolName()), answer.available(), answer.toString());
        assertEquals("libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_" + type.name() + "=" + type.value() + ")", answer.call());
    }

    @ParameterizedTest
    @EnumSource(BpfMapType.class)
    void mapTypeAgreesWithBpftool(BpfMapType type) throws Exception {
        BpfProbeAnswer answer = BpfProbes.mapType(type);
        assertEquals(bpftool.mapType(type.bpftoolName()), answer.available(), answer.toString());
    }

    static Stream<Arguments> helpersShuntUses() {
        return Stream.of(
                Arguments.of(BpfProgType.SCHED_CLS, BpfHelper.SK_ASSIGN),
                Arguments.of(BpfProgType.SK_MSG, BpfHelper.MSG_REDIRECT_HASH),
                Arguments.of(BpfProgType.SOCK_OPS, BpfHelper.SOCK_HASH_UPDATE));
    }

    @ParameterizedTest
    @MethodSource("helpersShuntUses")
    void helperAgreesWithBpftool(BpfProgType type, BpfHelper helper) throws Exception {
        BpfProbeAnswer answer = BpfProbes.helper(type, helper);
        boolean expected = bpftool.progType(type.bpftoolName()) && bpftool.helper(type.bpftoolName(), helper.cName());
        assertEquals(expected, answer.available(), answer.toString());
    }

    /** Helpers are program-type specific on every kernel; these pairs are refused everywhere. */
    static Stream<Arguments> helpersNoKernelAllows() {
        return Stream.of(
                Arguments.of(BpfProgType.SOCKET_FILTER, BpfHelper.MSG_REDIRECT_HASH),
                Arguments.of(BpfProgType.SCHED_CLS, BpfHelper.MSG_REDIRECT_HASH),
                Arguments.of(BpfProgType.SK_MSG, BpfHelper.SK_ASSIGN),
                Arguments.of(BpfProgType.CGROUP_SOCK_ADDR, BpfHelper.SOCK_HASH_UPDATE));
    }

    /**
     * The case libbpf 1.1 (and so bpftool 7.1) gets wrong on 6.x kernels: it calls these available.
     * The probe must not.
     */
    @ParameterizedTest
    @MethodSource("helpersNoKernelAllows")
    void aHelperTheVerifierRefusesIsNotAvailable(BpfProgType type, BpfHelper helper) throws Exception {
        BpfProbeAnswer answer = BpfProbes.helper(type, helper);
        assertFalse(answer.available(), answer.toString());
        assertFalse(answer.refusedCaller(), answer.toString());
        assertTrue(answer.detail().contains(helper.cName()), answer.toString());
    }

    @Test
    void theRawSyscallLoadsATrivialProgramWhereBpftoolSeesTheSyscall() throws NativeCallException {
        assertTrue(bpftool.syscall(), "bpftool: bpf() syscall is NOT available");
        BpfProbes.loadTrivialProgram();
    }

    @Test
    void reportsTheLibbpfVersion() {
        assertTrue(BpfProbes.libbpfVersion().matches("v1\\.\\d+"), BpfProbes.libbpfVersion());
    }

    @Test
    void bpftoolOutputParses() {
        BpftoolFeatures parsed = BpftoolFeatures.parse("""
                bpf() syscall is available

                eBPF program_type sk_msg is available
                eBPF program_type lirc_mode2 is NOT available
                eBPF map_type sockhash is available
                eBPF helpers supported for program type sk_msg:
                \t- bpf_msg_redirect_hash
                \t- bpf_map_lookup_elem
                eBPF helpers supported for program type lirc_mode2:

                Scanning miscellaneous eBPF features...
                \t- not_a_helper
                """);
        assertTrue(parsed.syscall());
        assertTrue(parsed.progType("sk_msg"));
        assertFalse(parsed.progType("lirc_mode2"));
        assertTrue(parsed.mapType("sockhash"));
        assertTrue(parsed.helper("sk_msg", "bpf_msg_redirect_hash"));
        assertFalse(parsed.helper("sk_msg", "bpf_sk_assign"));
        assertFalse(parsed.helper("lirc_mode2", "not_a_helper"));
    }
}
