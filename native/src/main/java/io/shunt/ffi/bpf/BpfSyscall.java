package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Libc;
import io.shunt.ffi.libc.NativeCallException;
import io.shunt.ffi.libc.internal.LibcHandles;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * The raw {@code bpf(BPF_PROG_LOAD)} system call, without libbpf: for probes that need the errno
 * and the verifier's own words, which libbpf's probe functions swallow.
 */
final class BpfSyscall {
    private static final int BPF_PROG_LOAD = 5;
    /**
     * sizeof(union bpf_attr) in the linux-libc-dev 6.1 headers. Older kernels accept a larger
     * attr whose tail is zero, newer ones zero-extend a shorter one.
     */
    private static final int ATTR_SIZE = 144;
    private static final int LOG_SIZE = 16 * 1024;
    /** libbpf retries a load that fails with EAGAIN (a signal during verification) this often. */
    private static final int ATTEMPTS = 5;

    /** One eBPF instruction: opcode, dst/src registers, offset, immediate (struct bpf_insn). */
    record Insn(int code, int regs, int off, int imm) {
        /** r0 = 0 (BPF_ALU64 | BPF_MOV | BPF_K). */
        static final Insn MOV_R0_0 = new Insn(0xb7, 0, 0, 0);
        /** exit (BPF_JMP | BPF_EXIT). */
        static final Insn EXIT = new Insn(0x95, 0, 0, 0);

        /** call helper (BPF_JMP | BPF_CALL). */
        static Insn call(BpfHelper helper) {
            return new Insn(0x85, 0, 0, helper.value());
        }
    }

    /**
     * What one load did. The program, when it loaded, is already unloaded again.
     *
     * @param errno 0 when it loaded
     * @param log   the verifier log (log_level 1), empty when none was written
     */
    record Load(boolean loaded, int errno, String log) {
    }

    private BpfSyscall() {
    }

    /** A description of {@code program} for messages, e.g. {@code sched_cls: call bpf_sk_assign; exit}. */
    static String describe(BpfProgType type, String program) {
        return "bpf(BPF_PROG_LOAD, " + type.bpftoolName() + ": " + program + ")";
    }

    /**
     * Loads {@code program} as a GPL program of {@code type} with the verifier log on, and unloads
     * it at once if it loaded.
     *
     * @throws UnsupportedOperationException when Shunt does not know the bpf syscall's number on this architecture
     */
    static Load load(BpfProgType type, List<Insn> program) {
        if (LibcHandles.SYS_BPF < 0) {
            throw new UnsupportedOperationException("Shunt does not know the bpf syscall number for os.arch="
                    + System.getProperty("os.arch"));
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment insns = arena.allocate(8L * program.size(), 8);
            for (int i = 0; i < program.size(); i++) {
                Insn insn = program.get(i);
                long at = 8L * i;
                insns.set(JAVA_BYTE, at, (byte) insn.code());
                insns.set(JAVA_BYTE, at + 1, (byte) insn.regs());
                insns.set(JAVA_SHORT, at + 2, (short) insn.off());
                insns.set(JAVA_INT, at + 4, insn.imm());
            }
            MemorySegment license = arena.allocateFrom("GPL");
            MemorySegment log = arena.allocate(LOG_SIZE);
            MemorySegment attr = arena.allocate(ATTR_SIZE, 8); // zeroed, as the kernel requires
            attr.set(JAVA_INT, 0, type.value());               // prog_type
            attr.set(JAVA_INT, 4, program.size());             // insn_cnt
            attr.set(JAVA_LONG, 8, insns.address());           // insns
            attr.set(JAVA_LONG, 16, license.address());        // license
            attr.set(JAVA_INT, 24, 1);                         // log_level
            attr.set(JAVA_INT, 28, LOG_SIZE);                  // log_size
            attr.set(JAVA_LONG, 32, log.address());            // log_buf
            attr.set(JAVA_INT, 68, type.probeAttachType());    // expected_attach_type
            long fd = -1;
            int errno = 0;
            for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
                MemorySegment state = LibcHandles.callState(arena);
                fd = (long) LibcHandles.syscallIntPtrInt$mh.invokeExact(state, LibcHandles.SYS_BPF, BPF_PROG_LOAD,
                        attr, ATTR_SIZE);
                errno = fd < 0 ? LibcHandles.errno(state) : 0;
                if (fd >= 0 || errno != 11 /* EAGAIN */) {
                    break;
                }
            }
            String text = log.getString(0);
            if (fd >= 0) {
                try {
                    Libc.close((int) fd, "probe program (" + type.bpftoolName() + ")");
                } catch (NativeCallException ignored) {
                    // the fd is released either way, and with it the program
                }
            }
            return new Load(fd >= 0, errno, text);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling bpf(BPF_PROG_LOAD)", t);
        }
    }
}
