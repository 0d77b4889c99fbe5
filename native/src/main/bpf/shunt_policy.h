/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The capture policy as BPF maps, the same in every technique's per-pod object (tc and sockmap):
 * included and excluded destination CIDRs, excluded outbound ports, excluded owners by uid, and
 * the pod's own IPv4 addresses. The Java side writes them with one code path (TcMaps, MapSync);
 * each object is pinned in its own pod folder, so equal names never meet.
 */
#ifndef SHUNT_POLICY_H
#define SHUNT_POLICY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct shunt_lpm4 {
	__u32 prefixlen;
	__u32 addr; /* network order */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__type(key, struct shunt_lpm4);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} shunt_excl4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__type(key, struct shunt_lpm4);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} shunt_incl4 SEC(".maps");

/* Port sets as bitmaps (bit p%64 of word p/64), so a range costs what a single port costs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} shunt_excl_out_ports SEC(".maps");

/* Socket owners (uids) whose outbound connections go direct; how a technique learns the owner is
 * its own (tc: bpf_get_socket_uid of the SYN's socket; sockmap: the connecting task's uid). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} shunt_excl_uid SEC(".maps");

/* The pod's own IPv4 addresses (network order): traffic between them and the pod is pod-local. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} shunt_local4 SEC(".maps");

/* Whether port (host order) is set in a port bitmap map. */
static __always_inline int shunt_port_in(void *bitmap, __u16 port)
{
	__u32 word = port >> 6;
	__u64 *bits = bpf_map_lookup_elem(bitmap, &word);

	return bits && (*bits & (1ULL << (port & 63)));
}

#endif
