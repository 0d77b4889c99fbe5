package io.shunt.hijack.probe;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * A kernel capability an interception technique may need. {@link #id()} is stable: it is what
 * operators type ({@code --assume-missing=tproxy}) and what {@code shuntctl probe} prints.
 */
public enum Feature {
    /** nf_tables: a table can be created. */
    NFTABLES("nftables", null),
    /** nat output chain with {@code redirect to :port}: the {@code redirect} technique. */
    NFT_REDIRECT("nft-redirect", NFTABLES),
    /** {@code tproxy ip to addr:port} in a filter prerouting chain: the {@code tproxy} technique. */
    NFT_TPROXY("tproxy", NFTABLES),
    /** {@code socket transparent} in prerouting and in a route output chain: the tproxy shortcut. */
    NFT_SOCKET("nft-socket", NFTABLES),
    /** fwmark rules and a local route table: the other half of the {@code tproxy} technique. */
    POLICY_ROUTING("policy-routing", null),
    /** The bpf syscall loads programs for this process. */
    BPF("bpf", null),
    /** cgroup/connect4 programs: the {@code sockmap} technique's destination rewrite. */
    BPF_CGROUP_SOCK_ADDR("bpf-cgroup-sock-addr", BPF),
    /** sock_ops programs that may call {@code bpf_sock_hash_update}. */
    BPF_SOCK_OPS("bpf-sock-ops", BPF),
    /** sk_msg programs that may call {@code bpf_msg_redirect_hash}. */
    BPF_SK_MSG("bpf-sk-msg", BPF),
    /** sockhash maps. */
    BPF_SOCKHASH("bpf-sockhash", BPF),
    /** tc (clsact) programs: the {@code tc} technique. */
    BPF_SCHED_CLS("bpf-sched-cls", BPF),
    /** {@code bpf_sk_assign} from tc programs: the {@code tc} technique's divert. */
    BPF_SK_ASSIGN("bpf-sk-assign", BPF),
    /** sk_lookup programs that may call {@code bpf_sk_assign}: the {@code tc} technique's listener choice. */
    BPF_SK_LOOKUP("bpf-sk-lookup", BPF),
    /** Kernel BTF at /sys/kernel/btf/vmlinux, for CO-RE programs. */
    BTF("btf", null),
    /** A mounted cgroup v2 hierarchy, where cgroup programs attach. */
    CGROUP_V2("cgroup-v2", null),
    /** A mounted bpffs, where BPF objects are pinned to survive agent restarts. */
    BPFFS("bpffs", null),
    /** io_uring, for the proxy engine's fastest transport. */
    IO_URING("io-uring", null);

    private final String id;
    private final Feature requires;

    Feature(String id, Feature requires) {
        this.id = id;
        this.requires = requires;
    }

    /** The stable kebab-case id used on the command line and in output. */
    public String id() {
        return id;
    }

    /**
     * The feature this one cannot exist without (nftables for the nft features, bpf for the BPF
     * ones), if any: a kernel without that one has none of its dependents.
     */
    public Optional<Feature> requires() {
        return Optional.ofNullable(requires);
    }

    /** The feature named {@code id}, e.g. from {@code --assume-missing=ID}. */
    public static Feature fromId(String id) {
        for (Feature f : values()) {
            if (f.id.equals(id)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unknown kernel feature '" + id + "'; known features: "
                + Arrays.stream(values()).map(Feature::id).collect(Collectors.joining(", ")));
    }

    @Override
    public String toString() {
        return id;
    }
}
