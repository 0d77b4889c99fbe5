// SPDX-License-Identifier: GPL-2.0
/*
 * The "tc" technique: divert a pod's TCP connections to the proxy's transparent listeners
 * without netfilter. Two programs share this object's maps (docs/design.md, "The tc technique"):
 *
 *   shunt_eth_egress (tc egress on every non-lo interface of the pod)
 *       The app's outbound SYN, unless excluded, and every later packet of a flow the proxy holds
 *       the other end of, is marked SHUNT_DIVERT_MARK and redirected into lo's ingress. The
 *       fwmark policy route (local 0.0.0.0/0 dev lo) makes the stack deliver it locally although
 *       its destination is not a local address.
 *   shunt_sk_lookup (sk_lookup, attached to the pod's netns)
 *       Runs whenever the stack looks for a listener. A SYN to a non-local destination can only
 *       be a diverted outbound SYN: it gets the outbound listener. A SYN from outside the pod to
 *       a pod address gets the inbound listener, unless its port is excluded or is a listener's.
 *
 * Why not bpf_sk_assign from tc ingress on lo: a SYN that hits one of the proxy's TIME_WAIT
 * sockets is looked up again by the stack after tc, as a listener lookup, and would reach the
 * app's own listener; sk_lookup sees that second lookup too. Measured in the technique's probe.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "shunt_policy.h"

#define SHUNT_AF_INET 2
#define SHUNT_TCP_LISTEN 10 /* TCP_LISTEN of include/net/tcp_states.h */

/* shunt_tc_cfg.flags; the Java side (TcMaps) uses the same numbers */
#define SHUNT_TC_INCLUDE_LIST 1   /* outbound: capture only destinations in shunt_incl4 */
#define SHUNT_TC_CAPTURE_INBOUND 2

/* The layout TcMaps writes: host byte order except where noted. */
struct shunt_tc_cfg {
	__u32 lo_ifindex;
	__u32 bypass_mark;  /* SO_MARK of the proxy's own sockets: never diverted */
	__u32 divert_mark;  /* skb mark the fwmark rule routes to the local table */
	__u16 out_port;     /* the outbound listener's port */
	__u16 in_port;      /* the inbound listener's port */
	__u32 flags;
	/* not read here: net.ipv4.conf.lo.accept_local of the pod before the install set it to 1,
	 * kept with the pod's pinned state so a restarted agent still restores it on removal */
	__u32 lo_accept_local_before;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct shunt_tc_cfg);
} shunt_tc_cfg SEC(".maps");

/* Inbound ports that bypass the proxy, as a bitmap like shunt_excl_out_ports (shunt_policy.h).
 * Group ids are not visible to BPF on the SYN's path: the tc technique refuses gid exclusions
 * (TcPlan). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} shunt_excl_in_ports SEC(".maps");

/* Key 0: the outbound listener, key 1: the inbound listener; inserted by fd from the agent. */
#define SHUNT_LISTENER_OUT 0
#define SHUNT_LISTENER_IN 1
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} shunt_listeners SEC(".maps");

/* Counters, read with bpftool map dump (docs/operations.md lists them in this order). */
enum {
	SHUNT_TC_EG_SYN, SHUNT_TC_EG_FLOW, SHUNT_TC_EG_EXCLUDED,
	SHUNT_TC_SKL_OUT, SHUNT_TC_SKL_IN, SHUNT_TC_SKL_NO_LISTENER, SHUNT_TC_NO_LISTENER_RST,
	SHUNT_TC_COUNTERS
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SHUNT_TC_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} shunt_tc_stats SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&shunt_tc_stats, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline struct shunt_tc_cfg *config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&shunt_tc_cfg, &zero);
}

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* Whether the proxy's listener of that key is in shunt_listeners (gone when the agent died). */
static __always_inline int listener_present(__u32 key)
{
	struct bpf_sock *sk = bpf_map_lookup_elem(&shunt_listeners, &key);

	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

/*
 * Turns the SYN in skb into the RST|ACK its sender would get from a closed port, in place:
 * addresses, ports and MACs swapped (the checksums' sums do not change), seq 0, ack = the SYN's
 * seq + 1, window 0. The SYN's options stay; a RST may carry them. Used when the proxy's listener
 * is gone (the agent died), so a connection is refused at once instead of timing out.
 */
static __always_inline int make_rst(struct __sk_buff *skb, struct iphdr *iph, __u32 l4)
{
	__u8 mac[2 * ETH_ALEN];
	__u8 swapped[2 * ETH_ALEN];
	__u32 addrs[2], ports, seq, old_seq, old_ack, old_word, new_word;
	__u32 csum_off = l4 + 16;
	int i;

	if (bpf_skb_load_bytes(skb, 0, mac, sizeof(mac)))
		return -1;
	for (i = 0; i < ETH_ALEN; i++) {
		swapped[i] = mac[ETH_ALEN + i];
		swapped[ETH_ALEN + i] = mac[i];
	}
	addrs[0] = iph->daddr;
	addrs[1] = iph->saddr;
	if (bpf_skb_load_bytes(skb, l4, &ports, 4) || bpf_skb_load_bytes(skb, l4 + 4, &old_seq, 4) ||
	    bpf_skb_load_bytes(skb, l4 + 8, &old_ack, 4) || bpf_skb_load_bytes(skb, l4 + 12, &old_word, 4))
		return -1;
	ports = (ports >> 16) | (ports << 16);
	seq = 0;
	{
		__u32 ack = bpf_htonl(bpf_ntohl(old_seq) + 1);
		/* byte 12: data offset (kept), byte 13: flags RST|ACK, bytes 14-15: window 0 */
		__u8 *w = (__u8 *)&new_word;

		new_word = old_word;
		w[1] = TH_RST | TH_ACK;
		w[2] = 0;
		w[3] = 0;
		if (bpf_l4_csum_replace(skb, csum_off, old_seq, seq, 4) ||
		    bpf_l4_csum_replace(skb, csum_off, old_ack, ack, 4) ||
		    bpf_l4_csum_replace(skb, csum_off, old_word, new_word, 4))
			return -1;
		if (bpf_skb_store_bytes(skb, 0, swapped, sizeof(swapped), 0) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN + __builtin_offsetof(struct iphdr, saddr), addrs, sizeof(addrs), 0) ||
		    bpf_skb_store_bytes(skb, l4, &ports, 4, 0) || bpf_skb_store_bytes(skb, l4 + 4, &seq, 4, 0) ||
		    bpf_skb_store_bytes(skb, l4 + 8, &ack, 4, 0) || bpf_skb_store_bytes(skb, l4 + 12, &new_word, 4, 0))
			return -1;
	}
	skb->mark = 0;
	return 0;
}

SEC("tc")
int shunt_eth_egress(struct __sk_buff *skb)
{
	struct shunt_tc_cfg *cfg = config();
	struct bpf_sock_tuple tuple = {};
	struct iphdr iph;
	__u8 th[14];

	if (!cfg || !cfg->lo_ifindex || skb->mark == cfg->bypass_mark)
		return TC_ACT_OK;
	if (skb->protocol != bpf_htons(ETH_P_IP) || bpf_skb_load_bytes(skb, ETH_HLEN, &iph, sizeof(iph)))
		return TC_ACT_OK;
	if (iph.protocol != IPPROTO_TCP || iph.ihl < 5 || (iph.frag_off & bpf_htons(0x1fff)))
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + iph.ihl * 4, th, sizeof(th)))
		return TC_ACT_OK;
	tuple.ipv4.saddr = iph.saddr;
	tuple.ipv4.daddr = iph.daddr;
	__builtin_memcpy(&tuple.ipv4.sport, &th[0], 2);
	__builtin_memcpy(&tuple.ipv4.dport, &th[2], 2);

	if ((th[13] & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) == TH_SYN) {
		/* a new connection of the app: the policy decides */
		struct shunt_lpm4 key = { .prefixlen = 32, .addr = iph.daddr };

		if (((cfg->flags & SHUNT_TC_INCLUDE_LIST) && !bpf_map_lookup_elem(&shunt_incl4, &key)) ||
		    bpf_map_lookup_elem(&shunt_excl4, &key) ||
		    shunt_port_in(&shunt_excl_out_ports, bpf_ntohs(tuple.ipv4.dport))) {
			count(SHUNT_TC_EG_EXCLUDED);
			return TC_ACT_OK;
		}
		__u32 uid = bpf_get_socket_uid(skb);
		if (bpf_map_lookup_elem(&shunt_excl_uid, &uid)) {
			count(SHUNT_TC_EG_EXCLUDED);
			return TC_ACT_OK;
		}
		if (!listener_present(SHUNT_LISTENER_OUT)) {
			/* the agent is gone: refuse, as a closed port would, instead of a black hole */
			count(SHUNT_TC_NO_LISTENER_RST);
			if (make_rst(skb, &iph, ETH_HLEN + iph.ihl * 4))
				return TC_ACT_SHOT;
			return bpf_redirect(skb->ifindex, BPF_F_INGRESS);
		}
		count(SHUNT_TC_EG_SYN);
	} else {
		/*
		 * A later packet: diverted iff a socket here holds the other end of this exact 4-tuple
		 * (the proxy's accepted socket, its request or TIME_WAIT socket). The lookup falls back
		 * to a listener lookup, which shunt_sk_lookup answers with a listener: not a flow.
		 */
		struct bpf_sock *sk = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
		int state;

		if (!sk)
			return TC_ACT_OK;
		state = sk->state;
		bpf_sk_release(sk);
		if (state == SHUNT_TCP_LISTEN)
			return TC_ACT_OK;
		count(SHUNT_TC_EG_FLOW);
	}
	skb->mark = cfg->divert_mark;
	{
		/* lo's address is 00:00:00:00:00:00: with it, eth_type_trans on lo says PACKET_HOST */
		__u8 zero_mac[ETH_ALEN] = {};

		bpf_skb_store_bytes(skb, 0, zero_mac, ETH_ALEN, 0);
	}
	return bpf_redirect(cfg->lo_ifindex, BPF_F_INGRESS);
}

static __always_inline int local4(__u32 addr)
{
	return (bpf_ntohl(addr) >> 24) == 127 || bpf_map_lookup_elem(&shunt_local4, &addr);
}

SEC("sk_lookup")
int shunt_sk_lookup(struct bpf_sk_lookup *ctx)
{
	struct shunt_tc_cfg *cfg;
	struct bpf_sock *sk;
	__u32 key;
	long err;

	if (ctx->family != SHUNT_AF_INET || ctx->protocol != IPPROTO_TCP)
		return SK_PASS;
	cfg = config();
	if (!cfg)
		return SK_PASS;
	/* NB: ctx->ingress_ifindex cannot tell diverted from local traffic: for a connection to the
	 * pod's own address over lo it names eth0, the device owning the address. */
	if (!local4(ctx->local_ip4)) {
		key = SHUNT_LISTENER_OUT; /* only a diverted outbound SYN has a non-local destination */
	} else {
		__u16 port = ctx->local_port; /* host order */

		if (!(cfg->flags & SHUNT_TC_CAPTURE_INBOUND) || local4(ctx->remote_ip4))
			return SK_PASS; /* pod-local: the app to itself, the proxy to the app */
		if (port == cfg->out_port || port == cfg->in_port || shunt_port_in(&shunt_excl_in_ports, port))
			return SK_PASS;
		key = SHUNT_LISTENER_IN;
	}
	sk = bpf_map_lookup_elem(&shunt_listeners, &key);
	if (!sk) {
		/* the proxy's listener is missing: fail closed; the peer's SYN retransmit retries */
		count(SHUNT_TC_SKL_NO_LISTENER);
		return SK_DROP;
	}
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	if (err) {
		count(SHUNT_TC_SKL_NO_LISTENER);
		return SK_DROP;
	}
	count(key == SHUNT_LISTENER_OUT ? SHUNT_TC_SKL_OUT : SHUNT_TC_SKL_IN);
	return SK_PASS;
}

/*
 * tc ingress on every interface but lo: only for the agent's absence. An inbound SYN that
 * shunt_sk_lookup would give the inbound listener, while that listener is gone, is answered with
 * a RST out of the same interface; everything else passes untouched.
 */
SEC("tc")
int shunt_eth_ingress(struct __sk_buff *skb)
{
	struct shunt_tc_cfg *cfg = config();
	struct iphdr iph;
	__u8 th[14];
	__u16 port;

	if (!cfg || !(cfg->flags & SHUNT_TC_CAPTURE_INBOUND))
		return TC_ACT_OK;
	if (skb->protocol != bpf_htons(ETH_P_IP) || bpf_skb_load_bytes(skb, ETH_HLEN, &iph, sizeof(iph)))
		return TC_ACT_OK;
	if (iph.protocol != IPPROTO_TCP || iph.ihl < 5 || (iph.frag_off & bpf_htons(0x1fff)))
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + iph.ihl * 4, th, sizeof(th)))
		return TC_ACT_OK;
	if ((th[13] & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) != TH_SYN)
		return TC_ACT_OK;
	if (!local4(iph.daddr) || local4(iph.saddr))
		return TC_ACT_OK;
	port = ((__u16)th[2] << 8) | th[3];
	if (port == cfg->out_port || port == cfg->in_port || shunt_port_in(&shunt_excl_in_ports, port))
		return TC_ACT_OK;
	if (listener_present(SHUNT_LISTENER_IN))
		return TC_ACT_OK;
	count(SHUNT_TC_NO_LISTENER_RST);
	if (make_rst(skb, &iph, ETH_HLEN + iph.ihl * 4))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
