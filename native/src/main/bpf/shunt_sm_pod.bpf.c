// SPDX-License-Identifier: GPL-2.0
/*
 * The pod half of the "sockmap" technique, loaded once per pod and attached to the pod's cgroup
 * (docs/design.md, "The sockmap technique"). Its node-wide maps come from shunt_sockmap.h and are
 * the same maps as the node object's (libbpf reuses them through their pins).
 *
 *   shunt_sm_connect4 / shunt_sm_connect6 (cgroup/connect4, cgroup/connect6)
 *       A TCP connect() of the pod to an IPv4 destination (in an AF_INET6 socket: a v4-mapped
 *       one) that the policy captures is rewritten to the pod's outbound listener, 127.0.0.1 in
 *       the pod's netns, and bound to the pod's own address so the app sees the source address it
 *       would have had. No NAT and no conntrack: the original destination is kept by socket
 *       cookie in shunt_sm_conn. Only sockets of the pod's own netns are touched (a cgroup can
 *       hold processes of other namespaces), never one carrying the proxy's bypass mark.
 *   shunt_sm_getpeername4 / 6 (cgroup/getpeername4, cgroup/getpeername6)
 *       The app asks whom it is connected to: the original destination, not the listener.
 *   shunt_sm_sockops_app (sockops)
 *       At ACTIVE_ESTABLISHED (before connect() returns) the app's socket joins shunt_sm_pairs and
 *       its original destination is filed under its 4-tuple for the proxy (shunt_sm_origdst).
 *       When it closes, its entries go.
 *
 * Real IPv6 destinations are not diverted, as with every technique: IPv4 only.
 */
#include "shunt_sockmap.h"
#include "shunt_policy.h"

#define SHUNT_AF_INET 2
#define SHUNT_AF_INET6 10
#define SHUNT_SOCK_STREAM 1
#define SHUNT_IPPROTO_TCP 6
#define SHUNT_TCP_CLOSE 7

/* shunt_sm_cfg.flags; SockmapMaps uses the same numbers */
#define SHUNT_SM_INCLUDE_LIST 1 /* capture only destinations in shunt_incl4 */

struct shunt_sm_cfg {
	__u64 netns_cookie;  /* the pod's netns: sockets of any other are left alone */
	__u32 listener_ip4;  /* network order: the outbound listener's address (127.0.0.1) */
	__u32 source_ip4;    /* network order: the pod's address the app's socket is bound to; 0: none */
	__u32 bypass_mark;   /* SO_MARK of the proxy's own sockets */
	__u16 out_port;      /* host order: the outbound listener's port */
	__u16 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct shunt_sm_cfg);
} shunt_sm_cfg SEC(".maps");

/* Excluded owners by group, matched on the connecting task's gid (bpf_get_current_uid_gid);
 * uids are in shunt_excl_uid (shunt_policy.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} shunt_sm_excl_gid SEC(".maps");

static __always_inline struct shunt_sm_cfg *config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&shunt_sm_cfg, &zero);
}

/* Whether the policy diverts a connect() to ip4:port (network order, host order). */
static __always_inline int captured(struct shunt_sm_cfg *cfg, __u32 ip4, __u16 port)
{
	struct shunt_lpm4 lpm = { .prefixlen = 32, .addr = ip4 };
	__u64 ids = bpf_get_current_uid_gid();
	__u32 uid = (__u32)ids, gid = (__u32)(ids >> 32);

	if ((bpf_ntohl(ip4) >> 24) == 127 || bpf_map_lookup_elem(&shunt_local4, &ip4))
		return 0;
	if ((cfg->flags & SHUNT_SM_INCLUDE_LIST) && !bpf_map_lookup_elem(&shunt_incl4, &lpm))
		return 0;
	if (bpf_map_lookup_elem(&shunt_excl4, &lpm) || shunt_port_in(&shunt_excl_out_ports, port))
		return 0;
	if (bpf_map_lookup_elem(&shunt_excl_uid, &uid) || bpf_map_lookup_elem(&shunt_sm_excl_gid, &gid))
		return 0;
	return 1;
}

/* The checks every connect() of the pod goes through before its destination is looked at. */
static __always_inline struct shunt_sm_cfg *applicable(struct bpf_sock_addr *ctx)
{
	struct shunt_sm_cfg *cfg = config();
	struct bpf_sock *sk = ctx->sk;

	if (!cfg || !sk || ctx->type != SHUNT_SOCK_STREAM || ctx->protocol != SHUNT_IPPROTO_TCP)
		return 0;
	if (bpf_get_netns_cookie(ctx) != cfg->netns_cookie || sk->mark == cfg->bypass_mark)
		return 0;
	return cfg;
}

/* Records the original destination and binds the source; 0 when the connect must stay as it is. */
static __always_inline int divert(struct bpf_sock_addr *ctx, struct shunt_sm_cfg *cfg, __u32 ip4, __u16 port,
				  int v6)
{
	struct shunt_sm_dst dst = { .ip4 = ip4, .port = port };
	__u64 cookie = bpf_get_socket_cookie(ctx);

	if (!captured(cfg, ip4, port)) {
		shunt_sm_count(SHUNT_SM_CONNECT_EXCLUDED, 1);
		return 0;
	}
	if (bpf_map_update_elem(&shunt_sm_conn, &cookie, &dst, BPF_ANY))
		return 0; /* no record, no original destination for the proxy: better go direct */
	if (cfg->source_ip4) {
		/* An app that bound its socket itself keeps its address (bpf_bind fails: EINVAL). */
		if (v6) {
			struct {
				__u16 family, port;
				__u32 flowinfo;
				__u32 addr[4];
				__u32 scope;
			} sin6 = { .family = SHUNT_AF_INET6, .addr = { 0, 0, bpf_htonl(0xffff), cfg->source_ip4 } };

			bpf_bind(ctx, (struct sockaddr *)&sin6, sizeof(sin6));
		} else {
			struct {
				__u16 family, port;
				__u32 addr;
				__u8 zero[8];
			} sin = { .family = SHUNT_AF_INET, .addr = cfg->source_ip4 };

			bpf_bind(ctx, (struct sockaddr *)&sin, sizeof(sin));
		}
	}
	shunt_sm_count(SHUNT_SM_CONNECT_DIVERTED, 1);
	return 1;
}

SEC("cgroup/connect4")
int shunt_sm_connect4(struct bpf_sock_addr *ctx)
{
	struct shunt_sm_cfg *cfg = applicable(ctx);

	if (!cfg || ctx->user_family != SHUNT_AF_INET)
		return 1;
	if (divert(ctx, cfg, ctx->user_ip4, bpf_ntohs((__u16)ctx->user_port), 0)) {
		ctx->user_ip4 = cfg->listener_ip4;
		ctx->user_port = bpf_htons(cfg->out_port);
	}
	return 1;
}

static __always_inline int v4_mapped(struct bpf_sock_addr *ctx)
{
	return ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 && ctx->user_ip6[2] == bpf_htonl(0xffff);
}

SEC("cgroup/connect6")
int shunt_sm_connect6(struct bpf_sock_addr *ctx)
{
	struct shunt_sm_cfg *cfg = applicable(ctx);

	if (!cfg || ctx->user_family != SHUNT_AF_INET6 || !v4_mapped(ctx))
		return 1;
	if (divert(ctx, cfg, ctx->user_ip6[3], bpf_ntohs((__u16)ctx->user_port), 1)) {
		ctx->user_ip6[3] = cfg->listener_ip4;
		ctx->user_port = bpf_htons(cfg->out_port);
	}
	return 1;
}

static __always_inline struct shunt_sm_dst *original(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);

	return bpf_map_lookup_elem(&shunt_sm_conn, &cookie);
}

SEC("cgroup/getpeername4")
int shunt_sm_getpeername4(struct bpf_sock_addr *ctx)
{
	struct shunt_sm_dst *dst = original(ctx);

	if (dst) {
		ctx->user_ip4 = dst->ip4;
		ctx->user_port = bpf_htons(dst->port);
	}
	return 1;
}

SEC("cgroup/getpeername6")
int shunt_sm_getpeername6(struct bpf_sock_addr *ctx)
{
	struct shunt_sm_dst *dst = original(ctx);

	if (dst && v4_mapped(ctx)) {
		ctx->user_ip6[3] = dst->ip4;
		ctx->user_port = bpf_htons(dst->port);
	}
	return 1;
}

SEC("sockops")
int shunt_sm_sockops_app(struct bpf_sock_ops *skops)
{
	struct shunt_sm_key self;
	struct shunt_sm_dst *dst;
	__u64 cookie;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    !(skops->op == BPF_SOCK_OPS_STATE_CB && skops->args[1] == SHUNT_TCP_CLOSE))
		return 1;
	cookie = bpf_get_socket_cookie(skops);
	dst = bpf_map_lookup_elem(&shunt_sm_conn, &cookie);
	if (!dst)
		return 1;
	self.netns = bpf_get_netns_cookie(skops);
	self.local_ip4 = skops->local_ip4;
	self.remote_ip4 = skops->remote_ip4;
	self.local_port = (__u16)skops->local_port;
	self.remote_port = shunt_sm_remote_port(skops->remote_port);
	self.pad = 0;
	if (skops->op == BPF_SOCK_OPS_STATE_CB) {
		bpf_map_delete_elem(&shunt_sm_origdst, &self);
		bpf_map_delete_elem(&shunt_sm_tcp_only, &self);
		bpf_map_delete_elem(&shunt_sm_redirected, &self);
		bpf_map_delete_elem(&shunt_sm_conn, &cookie);
		return 1;
	}
	/* the original destination first: the proxy may accept as soon as the handshake completes */
	bpf_map_update_elem(&shunt_sm_origdst, &self, dst, BPF_ANY);
	if (bpf_sock_hash_update(skops, &shunt_sm_pairs, &self, BPF_ANY) == 0)
		shunt_sm_count(SHUNT_SM_APP_JOINED, 1);
	bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
	return 1;
}

char _license[] SEC("license") = "GPL";
