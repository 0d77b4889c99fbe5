package io.shunt.ffi.bpf;

/** The BPF helpers Shunt's techniques call, with their {@code enum bpf_func_id} values from linux/bpf.h. */
public enum BpfHelper {
    /** sock_ops: put the socket into a sockhash. */
    SOCK_HASH_UPDATE(70, "bpf_sock_hash_update"),
    /** sk_msg: send the message to the socket a sockhash holds. */
    MSG_REDIRECT_HASH(71, "bpf_msg_redirect_hash"),
    /** sched_cls: hand the packet to a (transparent) listening socket. */
    SK_ASSIGN(124, "bpf_sk_assign");

    private final int value;
    private final String cName;

    BpfHelper(int value, String cName) {
        this.value = value;
        this.cName = cName;
    }

    /** The kernel's {@code enum bpf_func_id} value ({@code BPF_FUNC_...}). */
    public int value() {
        return value;
    }

    /** The helper's C name, as bpftool and the verifier print it, e.g. {@code bpf_sk_assign}. */
    public String cName() {
        return cName;
    }
}
