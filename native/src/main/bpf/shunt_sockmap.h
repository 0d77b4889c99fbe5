/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the two objects of the "sockmap" technique share (docs/design.md, "The sockmap technique"):
 * the node-wide maps, pinned once per node in <bpffs>/shunt/sockmap/node/ and reused by every
 * pod's object through its pin path, and the layouts the Java side (SockmapMaps) reads and writes.
 *
 * A connection is named by a shunt_sm_key as one of its own sockets sees it: the netns cookie
 * (so equal 4-tuples in two pods never meet), then local address and port, then remote address
 * and port. The app's socket and the proxy's accepted socket of one connection therefore have
 * mirrored keys.
 */
#ifndef SHUNT_SOCKMAP_H
#define SHUNT_SOCKMAP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct shunt_sm_key {
	__u64 netns;
	__u32 local_ip4;   /* network order */
	__u32 remote_ip4;  /* network order */
	__u16 local_port;  /* host order */
	__u16 remote_port; /* host order */
	__u32 pad;
};

/* An original destination: where the app asked to connect before connect4 rewrote it. */
struct shunt_sm_dst {
	__u32 ip4;  /* network order */
	__u16 port; /* host order */
	__u16 pad;
};

/* A listener of the proxy whose accepted sockets join shunt_sm_pairs: the pod's outbound listener. */
struct shunt_sm_listen_key {
	__u64 netns;
	__u32 port; /* host order */
	__u32 pad;
};

#define SHUNT_SM_CONNS 65536

/* Both sockets of every diverted connection: the app's (by sockops, at ACTIVE_ESTABLISHED) and the
 * proxy's accepted one (by sockops on the agent's cgroup, at PASSIVE_ESTABLISHED). The sk_msg
 * program attached to it moves each side's bytes into the other side's receive queue. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, SHUNT_SM_CONNS);
	__type(key, struct shunt_sm_key);
	__type(value, __u64);
} shunt_sm_pairs SEC(".maps");

/* The app socket's key -> its original destination; read by the getsockopt(SO_ORIGINAL_DST)
 * program for the proxy, removed when the app's socket closes. LRU: a full map forgets the
 * oldest entry instead of refusing a new connection. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SHUNT_SM_CONNS);
	__type(key, struct shunt_sm_key);
	__type(value, struct shunt_sm_dst);
} shunt_sm_origdst SEC(".maps");

/* The app socket's cookie -> its original destination: connect4 writes it, sockops turns it into
 * an shunt_sm_origdst entry, getpeername answers from it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SHUNT_SM_CONNS);
	__type(key, __u64);
	__type(value, struct shunt_sm_dst);
} shunt_sm_conn SEC(".maps");

/* Sockets that once sent a message while their peer was not in shunt_sm_pairs yet: those bytes
 * went through TCP, so every later byte must too, or the receiver could read the redirected
 * ones first (its psock queue is read before its TCP receive queue). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SHUNT_SM_CONNS);
	__type(key, struct shunt_sm_key);
	__type(value, __u8);
} shunt_sm_tcp_only SEC(".maps");

/*
 * Flow control for app -> proxy. A redirected message lands in the proxy socket's queue whatever
 * its size: the kernel applies no receive window, so a proxy that stops reading (its upstream is
 * slow) would let the app queue until the node runs out of TCP memory and the app's send fails
 * with ENOMEM (measured: 850 MiB with iperf3). So the app's socket may have at most
 * SHUNT_SM_WINDOW bytes redirected and not yet read by the proxy: shunt_sm_redirected counts what
 * it redirected, shunt_sm_consumed what the proxy read from its accepted socket (the agent writes
 * it as it reads). A message that would overrun the window, and every later one, goes through TCP,
 * whose window does apply. Switching that way round keeps the order: the receiver reads its psock
 * queue before its TCP queue.
 */
#define SHUNT_SM_WINDOW (512 << 10)

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SHUNT_SM_CONNS);
	__type(key, struct shunt_sm_key);
	__type(value, __u64);
} shunt_sm_redirected SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SHUNT_SM_CONNS);
	__type(key, struct shunt_sm_key);
	__type(value, __u64);
} shunt_sm_consumed SEC(".maps");

/* The proxy's outbound listeners, by netns cookie and port (written by the agent per pod). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct shunt_sm_listen_key);
	__type(value, __u8);
} shunt_sm_listen SEC(".maps");

/* Counters, node-wide, in this order (SockmapMaps.Counter). */
enum {
	SHUNT_SM_CONNECT_DIVERTED,
	SHUNT_SM_CONNECT_EXCLUDED,
	SHUNT_SM_APP_JOINED,
	SHUNT_SM_PROXY_JOINED,
	SHUNT_SM_MSG_REDIRECTED,
	SHUNT_SM_MSG_REDIRECTED_BYTES,
	SHUNT_SM_MSG_PASSED,
	SHUNT_SM_ORIGDST_ANSWERED,
	SHUNT_SM_ORIGDST_MISSED,
	SHUNT_SM_WINDOW_CLOSED,     /* an app socket went over SHUNT_SM_WINDOW: TCP from then on */
	SHUNT_SM_PROXY_MSG_TCP,     /* messages of the proxy's accepted sockets, always through TCP */
	SHUNT_SM_COUNTERS
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SHUNT_SM_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} shunt_sm_stats SEC(".maps");

static __always_inline void shunt_sm_count(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&shunt_sm_stats, &slot);

	if (v)
		__sync_fetch_and_add(v, n);
}

/* sock_ops and sk_msg carry the remote port as a be16 shifted into the high half (on
 * little-endian hosts), i.e. a 32-bit network-order number. */
static __always_inline __u16 shunt_sm_remote_port(__u32 remote_port)
{
	return (__u16)bpf_ntohl(remote_port);
}

#endif
