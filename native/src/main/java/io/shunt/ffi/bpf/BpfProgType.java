package io.shunt.ffi.bpf;

/**
 * The BPF program types Shunt's techniques use, with their {@code enum bpf_prog_type} values from
 * linux/bpf.h (uapi, so the numbers never change) and the names bpftool prints.
 */
public enum BpfProgType {
    /** The simplest type there is; loading one proves the bpf syscall works. */
    SOCKET_FILTER(1, "socket_filter", 0),
    /** tc clsact programs: the {@code tc} technique ({@code bpf_sk_assign}). */
    SCHED_CLS(3, "sched_cls", 0),
    /** sockops: the {@code sockmap} technique records sockets in a sockhash. */
    SOCK_OPS(13, "sock_ops", 0),
    /** sk_msg: the {@code sockmap} technique splices app and proxy sockets. */
    SK_MSG(16, "sk_msg", 0),
    /** cgroup/connect4: the {@code sockmap} technique rewrites the destination. */
    CGROUP_SOCK_ADDR(18, "cgroup_sock_addr", 10 /* BPF_CGROUP_INET4_CONNECT */),
    /** cgroup/getsockopt: an optional SO_ORIGINAL_DST answer for the {@code sockmap} technique. */
    CGROUP_SOCKOPT(25, "cgroup_sockopt", 21 /* BPF_CGROUP_GETSOCKOPT */),
    /** netns socket lookup programs: the {@code tc} technique hands diverted SYNs to the listeners with them. */
    SK_LOOKUP(30, "sk_lookup", 36 /* BPF_SK_LOOKUP */);

    private final int value;
    private final String bpftoolName;
    private final int probeAttachType;

    BpfProgType(int value, String bpftoolName, int probeAttachType) {
        this.value = value;
        this.bpftoolName = bpftoolName;
        this.probeAttachType = probeAttachType;
    }

    /** The kernel's {@code enum bpf_prog_type} value. */
    public int value() {
        return value;
    }

    /** The name {@code bpftool feature probe} uses, e.g. {@code sk_msg}. */
    public String bpftoolName() {
        return bpftoolName;
    }

    /** The expected_attach_type the kernel requires at load time (as libbpf's probe sets it), or 0. */
    int probeAttachType() {
        return probeAttachType;
    }
}
