// SPDX-License-Identifier: GPL-2.0
/*
 * The node half of the "sockmap" technique, loaded once per node (docs/design.md, "The sockmap
 * technique"):
 *
 *   shunt_sm_msg (sk_msg verdict, attached to shunt_sm_pairs)
 *       Runs on every sendmsg of a socket in the sockhash. An app socket's bytes move into the
 *       proxy socket's receive queue (bpf_msg_redirect_hash, BPF_F_INGRESS), skipping the
 *       loopback TCP stack, within the window the proxy's reads open (SHUNT_SM_WINDOW). The
 *       proxy's bytes to the app always go through TCP: nothing tells the kernel or the proxy
 *       how much of them the app has read, and only TCP's window keeps a slow app from piling
 *       them up. A socket whose peer is not (yet) in the map, or whose window is full, sends
 *       through TCP and from then on always does (shunt_sm_tcp_only): bytes never go from TCP
 *       back to redirection, which would let later bytes overtake earlier ones.
 *   shunt_sm_sockops_proxy (sockops, attached to the agent's own cgroup)
 *       The proxy's accepted sockets belong to the cgroup of the listener, the agent's. At
 *       PASSIVE_ESTABLISHED, a socket accepted by a pod's outbound listener (shunt_sm_listen)
 *       joins shunt_sm_pairs, before the app's first byte is processed.
 *   shunt_sm_getsockopt (cgroup/getsockopt, attached to the agent's own cgroup)
 *       Answers getsockopt(SOL_IP, SO_ORIGINAL_DST) on such an accepted socket from
 *       shunt_sm_origdst, as conntrack would after a DNAT: the proxy needs no other code path.
 */
#include "shunt_sockmap.h"

#define SHUNT_SOL_IP 0
#define SHUNT_SO_ORIGINAL_DST 80
#define SHUNT_AF_INET 2
#define SHUNT_TCP_CLOSE 7

/* The accepted socket's own key, and the key of the app socket on the other end. */
static __always_inline void proxy_keys(struct bpf_sock_ops *skops, struct shunt_sm_key *self)
{
	self->netns = bpf_get_netns_cookie(skops);
	self->local_ip4 = skops->local_ip4;
	self->remote_ip4 = skops->remote_ip4;
	self->local_port = (__u16)skops->local_port;
	self->remote_port = shunt_sm_remote_port(skops->remote_port);
	self->pad = 0;
}

SEC("sockops")
int shunt_sm_sockops_proxy(struct bpf_sock_ops *skops)
{
	struct shunt_sm_listen_key lk = {};
	struct shunt_sm_key self;

	if (skops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) {
		lk.netns = bpf_get_netns_cookie(skops);
		lk.port = skops->local_port;
		if (!bpf_map_lookup_elem(&shunt_sm_listen, &lk))
			return 1;
		proxy_keys(skops, &self);
		if (bpf_sock_hash_update(skops, &shunt_sm_pairs, &self, BPF_ANY) == 0) {
			shunt_sm_count(SHUNT_SM_PROXY_JOINED, 1);
			bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
		}
	} else if (skops->op == BPF_SOCK_OPS_STATE_CB && skops->args[1] == SHUNT_TCP_CLOSE) {
		/* the sockhash forgets a closing socket by itself; what the agent wrote for it goes here */
		proxy_keys(skops, &self);
		bpf_map_delete_elem(&shunt_sm_consumed, &self);
	}
	return 1;
}

SEC("sk_msg")
int shunt_sm_msg(struct sk_msg_md *msg)
{
	struct shunt_sm_listen_key lk = {};
	struct shunt_sm_key self, peer;
	__u64 sent = 0, read = 0, *v;
	__u8 one = 1;

	self.netns = bpf_get_netns_cookie(msg);
	self.local_ip4 = msg->local_ip4;
	self.remote_ip4 = msg->remote_ip4;
	self.local_port = (__u16)msg->local_port;
	self.remote_port = shunt_sm_remote_port(msg->remote_port);
	self.pad = 0;
	lk.netns = self.netns;
	lk.port = self.local_port;
	if (bpf_map_lookup_elem(&shunt_sm_listen, &lk)) {
		/* the proxy's accepted socket: to the app through TCP, see above */
		shunt_sm_count(SHUNT_SM_PROXY_MSG_TCP, 1);
		return SK_PASS;
	}
	if (bpf_map_lookup_elem(&shunt_sm_tcp_only, &self)) {
		shunt_sm_count(SHUNT_SM_MSG_PASSED, 1);
		return SK_PASS;
	}
	peer.netns = self.netns;
	peer.local_ip4 = self.remote_ip4;
	peer.remote_ip4 = self.local_ip4;
	peer.local_port = self.remote_port;
	peer.remote_port = self.local_port;
	peer.pad = 0;
	v = bpf_map_lookup_elem(&shunt_sm_redirected, &self);
	if (v)
		sent = *v;
	v = bpf_map_lookup_elem(&shunt_sm_consumed, &peer);
	if (v)
		read = *v;
	/* sendmsg holds the socket's lock: no other message of this socket runs meanwhile */
	if (sent - read + msg->size > SHUNT_SM_WINDOW) {
		bpf_map_update_elem(&shunt_sm_tcp_only, &self, &one, BPF_ANY);
		shunt_sm_count(SHUNT_SM_WINDOW_CLOSED, 1);
		shunt_sm_count(SHUNT_SM_MSG_PASSED, 1);
		return SK_PASS;
	}
	if (bpf_msg_redirect_hash(msg, &shunt_sm_pairs, &peer, BPF_F_INGRESS) == SK_PASS) {
		sent += msg->size;
		bpf_map_update_elem(&shunt_sm_redirected, &self, &sent, BPF_ANY);
		shunt_sm_count(SHUNT_SM_MSG_REDIRECTED, 1);
		shunt_sm_count(SHUNT_SM_MSG_REDIRECTED_BYTES, msg->size);
		return SK_PASS;
	}
	bpf_map_update_elem(&shunt_sm_tcp_only, &self, &one, BPF_ANY);
	shunt_sm_count(SHUNT_SM_MSG_PASSED, 1);
	return SK_PASS;
}

SEC("cgroup/getsockopt")
int shunt_sm_getsockopt(struct bpf_sockopt *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct shunt_sm_key app;
	struct shunt_sm_dst *dst;
	struct {
		__u16 family;
		__u16 port;
		__u32 addr;
		__u8 zero[8];
	} *sin;

	if (ctx->level != SHUNT_SOL_IP || ctx->optname != SHUNT_SO_ORIGINAL_DST || !sk)
		return 1;
	/* the app's socket, seen from the accepted one: its local end is our remote end */
	app.netns = bpf_get_netns_cookie(ctx);
	app.local_ip4 = sk->dst_ip4;
	app.remote_ip4 = sk->src_ip4;
	app.local_port = bpf_ntohs(sk->dst_port);
	app.remote_port = (__u16)sk->src_port;
	app.pad = 0;
	dst = bpf_map_lookup_elem(&shunt_sm_origdst, &app);
	if (!dst) {
		/* not a connection of this technique (a DNAT one has conntrack's answer): leave it */
		if (ctx->retval != 0)
			shunt_sm_count(SHUNT_SM_ORIGDST_MISSED, 1);
		return 1;
	}
	sin = ctx->optval;
	if ((void *)(sin + 1) > ctx->optval_end)
		return 1; /* the caller's buffer is shorter than a sockaddr_in: the kernel's answer stands */
	sin->family = SHUNT_AF_INET;
	sin->port = bpf_htons(dst->port);
	sin->addr = dst->ip4;
	__builtin_memset(sin->zero, 0, sizeof(sin->zero));
	ctx->optlen = sizeof(*sin);
	/* two separate 32-bit stores: clang would merge them into one 64-bit store the verifier refuses */
	asm volatile("" ::: "memory");
	ctx->retval = 0;
	shunt_sm_count(SHUNT_SM_ORIGDST_ANSWERED, 1);
	return 1;
}

char _license[] SEC("license") = "GPL";
