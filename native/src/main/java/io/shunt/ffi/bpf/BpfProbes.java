package io.shunt.ffi.bpf;

import io.shunt.ffi.NativeLibrary;
import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.NativeCallException;
import io.shunt.ffi.libc.internal.LibcHandles;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Asks the running kernel which BPF program types, map types and helpers it supports, by
 * attempting them: libbpf's probe functions ({@code libbpf_probe_bpf_*} from libbpf.so.1, loaded
 * on first use) load a minimal program or create a minimal map and unload it at once.
 *
 * <p>Every answer says what was tried and, when the kernel refused, with which errno, so a caller
 * can tell "not supported" from "not allowed to ask" ({@link BpfProbeAnswer#refusedCaller()}).
 * A libbpf error (a negative return) is a {@link NativeCallException}.
 *
 * <p>libbpf's helper probe is not trusted on its own. libbpf 1.1 (Debian 12) treats any verifier
 * rejection other than "invalid func"/"unknown func" as support, so it reports every helper the
 * kernel knows as available for every program type on kernels whose verifier says
 * "program of this type cannot use helper" instead (6.x, including this project's hosts), and
 * reports support when the load fails with EPERM. {@link #helper} therefore confirms a positive
 * answer with its own load and reads the verifier log itself.
 */
public final class BpfProbes {
    private static final List<String> HELPER_REFUSALS =
            List.of("invalid func ", "unknown func ", "program of this type cannot use helper ");

    private BpfProbes() {
    }

    /**
     * Loads the smallest valid program ({@code socket_filter: r0 = 0; exit}) through the raw bpf
     * syscall, without libbpf, and unloads it: succeeds when the kernel has a usable bpf syscall.
     *
     * @throws NativeCallException with ENOSYS when the kernel has no bpf syscall, EPERM when the
     *                             caller may not use it
     * @throws UnsupportedOperationException when Shunt does not know the syscall's number on this architecture
     */
    public static void loadTrivialProgram() throws NativeCallException {
        BpfSyscall.Load load = BpfSyscall.load(BpfProgType.SOCKET_FILTER,
                List.of(BpfSyscall.Insn.MOV_R0_0, BpfSyscall.Insn.EXIT));
        if (!load.loaded()) {
            throw new NativeCallException(BpfSyscall.describe(BpfProgType.SOCKET_FILTER, "r0 = 0; exit"), load.errno());
        }
    }

    /** Whether the kernel loads a minimal program of {@code type} ({@code libbpf_probe_bpf_prog_type}). */
    public static BpfProbeAnswer progType(BpfProgType type) throws NativeCallException {
        String call = "libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_" + type.name() + "=" + type.value() + ")";
        Result r = invoke(call, HANDLES.get().probeProgType, type.value(), -1);
        return r.rc == 1
                ? new BpfProbeAnswer(call, true, 0, "a minimal " + type.bpftoolName() + " program loads")
                : new BpfProbeAnswer(call, false, r.errno,
                        "the kernel refused a minimal " + type.bpftoolName() + " program" + errnoText(r.errno));
    }

    /** Whether the kernel creates a minimal map of {@code type} ({@code libbpf_probe_bpf_map_type}). */
    public static BpfProbeAnswer mapType(BpfMapType type) throws NativeCallException {
        String call = "libbpf_probe_bpf_map_type(BPF_MAP_TYPE_" + type.name() + "=" + type.value() + ")";
        Result r = invoke(call, HANDLES.get().probeMapType, type.value(), -1);
        return r.rc == 1
                ? new BpfProbeAnswer(call, true, 0, "a " + type.bpftoolName() + " map can be created")
                : new BpfProbeAnswer(call, false, r.errno,
                        "the kernel refused to create a " + type.bpftoolName() + " map" + errnoText(r.errno));
    }

    /**
     * Whether programs of {@code type} may call {@code helper}: {@code libbpf_probe_bpf_helper},
     * and when that says yes, a load of {@code call helper; exit} whose verifier log is read here
     * (see the class comment for why).
     */
    public static BpfProbeAnswer helper(BpfProgType type, BpfHelper helper) throws NativeCallException {
        String call = "libbpf_probe_bpf_helper(BPF_PROG_TYPE_" + type.name() + "=" + type.value() + ", BPF_FUNC_"
                + helper.cName().substring("bpf_".length()) + "=" + helper.value() + ")";
        String what = helper.cName() + " in a " + type.bpftoolName() + " program";
        Result r = invoke(call, HANDLES.get().probeHelper, type.value(), helper.value());
        if (r.rc == 0) {
            return new BpfProbeAnswer(call, false, 0, "the verifier does not allow " + what);
        }
        BpfSyscall.Load load = BpfSyscall.load(type, List.of(BpfSyscall.Insn.call(helper), BpfSyscall.Insn.EXIT));
        if (load.loaded()) {
            return new BpfProbeAnswer(call, true, 0, "the verifier accepted " + what);
        }
        // The verifier rejects bad arguments with EACCES too; only a load that never reached it
        // (no log) was refused for who the caller is.
        if (load.log().isBlank() && (load.errno() == Errno.EPERM || load.errno() == Errno.EACCES)) {
            return new BpfProbeAnswer(call, false, load.errno(), "the kernel refused to verify " + what
                    + errnoText(load.errno()) + ", so libbpf's 'available' is only its default guess");
        }
        Optional<String> refusal = load.log().lines().filter(l -> HELPER_REFUSALS.stream().anyMatch(l::contains))
                .findFirst();
        if (refusal.isPresent()) {
            return new BpfProbeAnswer(call, false, load.errno(), "the verifier refused " + what + ": '"
                    + refusal.get().strip() + "' (libbpf " + libbpfVersion() + " reported it available: "
                    + "its probe does not recognise this verifier message)");
        }
        return new BpfProbeAnswer(call, true, 0, "the verifier knows " + what + " (it rejected only the probe's "
                + "arguments: '" + firstComplaint(load.log()) + "')");
    }

    /** The version of the libbpf in use, e.g. {@code v1.1}. */
    public static String libbpfVersion() {
        try {
            MemorySegment text = (MemorySegment) HANDLES.get().versionString.invokeExact();
            return text.reinterpret(64).getString(0);
        } catch (Throwable t) {
            throw new LinkageError("calling libbpf_version_string", t);
        }
    }

    private record Result(int rc, int errno) {
    }

    /** Calls one probe function with its NULL opts; a negative return (-errno) becomes an exception. */
    private static Result invoke(String call, MethodHandle probe, int first, int second) throws NativeCallException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = LibcHandles.callState(arena);
            int rc = second < 0
                    ? (int) probe.invokeExact(state, first, MemorySegment.NULL)
                    : (int) probe.invokeExact(state, first, second, MemorySegment.NULL);
            if (rc < 0) {
                throw new NativeCallException(call, -rc);
            }
            // on 0, errno is still the one of the load or map creation libbpf attempted
            return new Result(rc, rc == 0 ? LibcHandles.errno(state) : 0);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw new LinkageError("calling " + call, t);
        }
    }

    private static String errnoText(int errno) {
        return errno == 0 ? "" : ": " + Errno.name(errno) + " (" + Errno.describe(errno) + ")";
    }

    /** The verifier's first line that is not an instruction dump, register state or statistics. */
    private static String firstComplaint(String log) {
        return log.lines().map(String::strip)
                .filter(l -> !l.isEmpty() && !l.matches("^\\d+: .*") && !l.startsWith("processed ")
                        && !l.startsWith("func#"))
                .findFirst().orElse("no verifier message");
    }

    /** Loaded on first use, so a host without libbpf fails only when a BPF probe actually runs. */
    private static final NativeLibrary.Lazy<Handles> HANDLES = new NativeLibrary.Lazy<>(Handles::load);

    private record Handles(MethodHandle probeProgType, MethodHandle probeMapType, MethodHandle probeHelper,
                           MethodHandle versionString) {
        static Handles load() {
            NativeLibrary lib = NativeLibrary.open("libbpf.so.1", "libbpf 1.0 or newer (the Debian/Ubuntu package libbpf1)");
            Linker.Option errno = Linker.Option.captureCallState("errno");
            return new Handles(
                    // int libbpf_probe_bpf_prog_type(enum bpf_prog_type prog_type, const void *opts)
                    lib.function("libbpf_probe_bpf_prog_type", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), errno),
                    // int libbpf_probe_bpf_map_type(enum bpf_map_type map_type, const void *opts)
                    lib.function("libbpf_probe_bpf_map_type", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), errno),
                    // int libbpf_probe_bpf_helper(enum bpf_prog_type, enum bpf_func_id, const void *opts)
                    lib.function("libbpf_probe_bpf_helper",
                            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), errno),
                    // const char *libbpf_version_string(void)
                    lib.function("libbpf_version_string", FunctionDescriptor.of(ADDRESS)));
        }
    }
}
