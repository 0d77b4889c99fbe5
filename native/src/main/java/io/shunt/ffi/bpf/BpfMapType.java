package io.shunt.ffi.bpf;

/** The BPF map types Shunt's techniques use, with their {@code enum bpf_map_type} values from linux/bpf.h. */
public enum BpfMapType {
    SOCKMAP(15, "sockmap"),
    /** The {@code sockmap} technique keys sockets by 4-tuple in a sockhash. */
    SOCKHASH(18, "sockhash");

    private final int value;
    private final String bpftoolName;

    BpfMapType(int value, String bpftoolName) {
        this.value = value;
        this.bpftoolName = bpftoolName;
    }

    /** The kernel's {@code enum bpf_map_type} value. */
    public int value() {
        return value;
    }

    /** The name {@code bpftool feature probe} uses, e.g. {@code sockhash}. */
    public String bpftoolName() {
        return bpftoolName;
    }
}
