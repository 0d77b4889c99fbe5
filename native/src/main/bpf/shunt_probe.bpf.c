// SPDX-License-Identifier: GPL-2.0
/*
 * The smallest programs of the two hook families the eBPF techniques build on: a tc classifier
 * and a cgroup/connect4 hook. Both only count what passes and let it through, so attaching them
 * anywhere changes nothing but a counter. They exist to prove the build, the loader and the attach
 * paths end to end; the techniques bring their own programs.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

/* Slots of shunt_counters; the Java side (BpfObjectTest) uses the same numbers. */
#define SHUNT_COUNTER_TC 0
#define SHUNT_COUNTER_CONNECT4 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} shunt_counters SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *counter = bpf_map_lookup_elem(&shunt_counters, &slot);

	/* The verifier insists on the NULL check even though an array slot below max_entries always exists. */
	if (counter)
		__sync_fetch_and_add(counter, 1);
}

SEC("tc")
int shunt_tc_pass(struct __sk_buff *skb)
{
	count(SHUNT_COUNTER_TC);
	return TC_ACT_OK;
}

SEC("cgroup/connect4")
int shunt_connect4_pass(struct bpf_sock_addr *ctx)
{
	count(SHUNT_COUNTER_CONNECT4);
	return 1; /* 1 lets connect() proceed; 0 would fail it with EPERM */
}

/* bpf_sk_assign and the other helpers the techniques need are GPL-only. */
char LICENSE[] SEC("license") = "GPL";
