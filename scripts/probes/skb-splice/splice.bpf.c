/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The probe's in-kernel splice (README.md beside this file): every byte that arrives on a socket
 * in probe_socks goes straight to the egress of its peer socket, named in probe_peers, and is
 * counted in probe_bytes. Not part of Shunt: docs/benchmarks.md explains why.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 64);
	__type(key, __u64); /* socket cookie */
	__type(value, __u64);
} probe_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);   /* socket cookie */
	__type(value, __u64); /* the peer's cookie */
} probe_peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);   /* socket cookie */
	__type(value, __u64); /* bytes redirected from it */
} probe_bytes SEC(".maps");

SEC("sk_skb/stream_verdict")
int probe_splice(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	__u64 *peer = bpf_map_lookup_elem(&probe_peers, &cookie);
	__u64 *bytes = bpf_map_lookup_elem(&probe_bytes, &cookie);

	if (!peer || !bytes)
		return SK_PASS;
	__sync_fetch_and_add(bytes, skb->len);
	return bpf_sk_redirect_hash(skb, &probe_socks, peer, 0);
}

char LICENSE[] SEC("license") = "GPL";
