package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;

/**
 * What one BPF feature probe found.
 *
 * @param call      the probe, as a call with its input, e.g. {@code libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SOCKHASH=18)}
 * @param available whether the kernel accepted what the probe tried
 * @param errno     the errno of the kernel's refusal, 0 when it accepted or none is known
 * @param detail    one line for humans: what was tried and what the kernel said
 */
public record BpfProbeAnswer(String call, boolean available, int errno, String detail) {

    /**
     * The kernel refused the caller rather than the feature (EPERM, EACCES: no CAP_BPF or
     * CAP_SYS_ADMIN, a seccomp filter, a lockdown LSM), so the probe says nothing about support.
     */
    public boolean refusedCaller() {
        return !available && (errno == Errno.EPERM || errno == Errno.EACCES);
    }

    @Override
    public String toString() {
        return call + ": " + (available ? "available" : "not available") + " (" + detail + ")";
    }
}
