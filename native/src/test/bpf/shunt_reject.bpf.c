// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: a program the verifier must reject, so the tests can check that a rejection surfaces
 * with the verifier's own words and leaves nothing loaded. It reads the first byte of the packet
 * without first proving that the packet is at least one byte long, the most common mistake in
 * real tc programs. The map is there so the test also sees maps released after a failed load.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} shunt_rejects SEC(".maps");

SEC("tc")
int shunt_tc_reject(struct __sk_buff *skb)
{
	__u8 *data = (__u8 *)(long)skb->data;
	__u32 slot = 0;
	__u64 *seen = bpf_map_lookup_elem(&shunt_rejects, &slot);

	if (seen)
		*seen += 1;
	/* No "if (data + 1 > (void *)(long)skb->data_end)" check: the verifier refuses this load. */
	return data[0] == 0 ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
