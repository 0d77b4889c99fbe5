package io.shunt.hijack.tc;

import io.shunt.hijack.RulePlan;
import io.shunt.hijack.tproxy.TproxySettings;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Everything the {@code tc} technique does to a pod for a policy, rendered before anything is
 * applied: the BPF object and where its programs attach, the map contents the policy gives, the
 * policy routing and the sysctl. The nftables part, {@link #nft()}, is the {@link RulePlan} every
 * technique has; for tc its script only removes Shunt's shared table {@code inet shunt}, because
 * installing one technique replaces another's table and tc has none of its own (a live move from
 * redirect or tproxy relies on that). The pod-specific map contents (lo's ifindex, the pod's
 * addresses, the listener sockets) are filled in at install and shown by {@code installed}.
 */
public record TcPlan(RulePlan nft, TproxySettings routing, TcMaps.Contents maps) {

    public TcPlan {
        Objects.requireNonNull(nft, "nft");
        Objects.requireNonNull(routing, "routing");
        Objects.requireNonNull(maps, "maps");
    }

    /** The steps as text, one per line, in the order install applies them. */
    public List<String> steps() {
        List<String> steps = new ArrayList<>();
        steps.add("load BPF object " + TcMaps.OBJECT + ".bpf.o, maps pinned in <bpffs>/shunt/tc/netns-<inode>/");
        maps.describe().forEach(line -> steps.add("map " + line));
        steps.add("map " + TcMaps.LOCAL4 + ": the pod's IPv4 addresses");
        steps.add("map " + TcMaps.LISTENERS + ": 0 = outbound listener socket"
                + ((maps.flags() & TcMaps.FLAG_CAPTURE_INBOUND) != 0 ? ", 1 = inbound listener socket" : ""));
        steps.add("ip route add " + "local 0.0.0.0/0 dev lo table " + routing.table());
        steps.add("ip rule add " + routing.rule());
        steps.add("sysctl net.ipv4.conf.lo.accept_local=1 (the previous value is restored on removal)");
        steps.add("tc filter add dev <every interface but lo> egress pref " + TcHijacker.FILTER_PRIORITY + " handle 0x"
                + Integer.toHexString(TcHijacker.FILTER_HANDLE) + " bpf da " + TcMaps.EGRESS_PROGRAM);
        steps.add("tc filter add dev <every interface but lo> ingress pref " + TcHijacker.FILTER_PRIORITY + " handle 0x"
                + Integer.toHexString(TcHijacker.FILTER_HANDLE) + " bpf da " + TcMaps.INGRESS_PROGRAM
                + " (answers inbound SYNs with a RST while the inbound listener is gone)");
        steps.add("bpf link: " + TcMaps.SK_LOOKUP_PROGRAM + " attached to the netns (sk_lookup), pinned as "
                + TcHijacker.LINK_PIN);
        steps.add("nft: " + nft.nftScript().strip().replace('\n', ';'));
        return steps;
    }

    @Override
    public String toString() {
        StringBuilder out = new StringBuilder("# tc technique\n");
        steps().forEach(step -> out.append(step).append('\n'));
        return out.toString();
    }
}
