package io.shunt.hijack.probe;

import io.shunt.ffi.bpf.BpfHelper;
import io.shunt.ffi.bpf.BpfMapType;
import io.shunt.ffi.bpf.BpfProbeAnswer;
import io.shunt.ffi.bpf.BpfProbes;
import io.shunt.ffi.bpf.BpfProgType;
import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.NativeCallException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

/**
 * The BPF probes: the bpf syscall first (raw, so a missing libbpf cannot hide it), then each
 * program type, map type and helper a technique needs, through {@link BpfProbes}.
 */
final class BpfFeatureProbes {
    private static final String NEEDS_PRIVILEGE = "cannot tell without CAP_BPF (or CAP_SYS_ADMIN)";

    @FunctionalInterface
    private interface Ask {
        BpfProbeAnswer ask() throws NativeCallException;
    }

    private BpfFeatureProbes() {
    }

    static Map<Feature, ProbeResult> run() {
        Map<Feature, ProbeResult> results = new EnumMap<>(Feature.class);
        ProbeResult bpf = syscall();
        results.put(Feature.BPF, bpf);
        if (bpf instanceof ProbeResult.Unsupported u) {
            for (Feature f : Feature.values()) {
                if (f.requires().orElse(null) == Feature.BPF) {
                    results.put(f, new ProbeResult.Unsupported("needs bpf: " + u.reason()));
                }
            }
            return results;
        }
        // bpf supported or inconclusive: ask anyway; a refused caller shows up again in each answer
        ProbeResult schedCls = ask(() -> BpfProbes.progType(BpfProgType.SCHED_CLS));
        results.put(Feature.BPF_CGROUP_SOCK_ADDR, ask(() -> BpfProbes.progType(BpfProgType.CGROUP_SOCK_ADDR)));
        results.put(Feature.BPF_SOCK_OPS, both(ask(() -> BpfProbes.progType(BpfProgType.SOCK_OPS)),
                () -> BpfProbes.helper(BpfProgType.SOCK_OPS, BpfHelper.SOCK_HASH_UPDATE)));
        results.put(Feature.BPF_SK_MSG, both(ask(() -> BpfProbes.progType(BpfProgType.SK_MSG)),
                () -> BpfProbes.helper(BpfProgType.SK_MSG, BpfHelper.MSG_REDIRECT_HASH)));
        results.put(Feature.BPF_SOCKHASH, ask(() -> BpfProbes.mapType(BpfMapType.SOCKHASH)));
        results.put(Feature.BPF_SCHED_CLS, schedCls);
        results.put(Feature.BPF_SK_ASSIGN, both(schedCls,
                () -> BpfProbes.helper(BpfProgType.SCHED_CLS, BpfHelper.SK_ASSIGN)));
        results.put(Feature.BPF_SK_LOOKUP, both(ask(() -> BpfProbes.progType(BpfProgType.SK_LOOKUP)),
                () -> BpfProbes.helper(BpfProgType.SK_LOOKUP, BpfHelper.SK_ASSIGN)));
        return results;
    }

    /** Loads a trivial program with the raw syscall: does this process have a usable bpf()? */
    static ProbeResult syscall() {
        try {
            BpfProbes.loadTrivialProgram();
            return new ProbeResult.Supported("bpf(BPF_PROG_LOAD) loaded (and unloaded) a trivial socket_filter program");
        } catch (NativeCallException e) {
            return switch (e.errno()) {
                case Errno.ENOSYS -> new ProbeResult.Unsupported(e.getMessage()
                        + ": the kernel has no bpf syscall (CONFIG_BPF_SYSCALL), or a seccomp filter hides it");
                case Errno.EPERM, Errno.EACCES -> new ProbeResult.Inconclusive(e.getMessage() + ": " + NEEDS_PRIVILEGE
                        + unprivilegedBpfSetting());
                default -> new ProbeResult.Unsupported(e.getMessage());
            };
        } catch (Exception | LinkageError e) {
            return new ProbeResult.Inconclusive("bpf syscall probe failed: " + e.getMessage());
        }
    }

    private static ProbeResult ask(Ask probe) {
        try {
            BpfProbeAnswer a = probe.ask();
            if (a.available()) {
                return new ProbeResult.Supported(a.detail());
            }
            if (a.refusedCaller()) {
                return new ProbeResult.Inconclusive(a.detail() + " [" + a.call() + "]: " + NEEDS_PRIVILEGE);
            }
            return new ProbeResult.Unsupported(a.detail() + " [" + a.call() + "]");
        } catch (UnsatisfiedLinkError e) {
            return new ProbeResult.Inconclusive(e.getMessage());
        } catch (Exception | LinkageError e) {
            return new ProbeResult.Inconclusive("BPF probe failed: " + e.getMessage());
        }
    }

    /** A program type whose use needs a helper: the helper is asked only when the type loads. */
    private static ProbeResult both(ProbeResult progType, Ask helper) {
        if (!(progType instanceof ProbeResult.Supported p)) {
            return progType;
        }
        ProbeResult h = ask(helper);
        return h instanceof ProbeResult.Supported s ? new ProbeResult.Supported(p.detail() + "; " + s.detail()) : h;
    }

    private static String unprivilegedBpfSetting() {
        try {
            return " (kernel.unprivileged_bpf_disabled="
                    + Files.readString(Path.of("/proc/sys/kernel/unprivileged_bpf_disabled")).strip() + ")";
        } catch (Exception e) {
            return "";
        }
    }
}
