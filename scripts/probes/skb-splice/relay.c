// SPDX-License-Identifier: GPL-2.0
// A TCP relay for the probe (README.md beside this file): relay MODE LISTEN_PORT UPSTREAM_PORT BPF_OBJECT
//   copy: read() and write() in user space, one thread per direction (what any user-space proxy does)
//   pipe: splice(2) through a pipe, one thread per direction (no copy into user space)
//   skb:  sk_skb stream verdict redirect (splice.bpf.c): the kernel moves the bytes, user space only
//         waits for each side's end and passes it on once the kernel has handed over what it redirected
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* the kernel's tcp_info: glibc's lacks tcpi_bytes_acked */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum mode { COPY, PIPE, SKB };
struct dir { int from, to; };
static int socks_fd, peers_fd, bytes_fd;

static void die(const char *what) { perror(what); exit(1); }

static void *copy_dir(void *arg) {
	struct dir *d = arg;
	static __thread char buf[1 << 16];
	ssize_t n;
	while ((n = read(d->from, buf, sizeof buf)) > 0)
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(d->to, buf + w, n - w);
			if (k < 0) return NULL;
			w += k;
		}
	shutdown(d->to, SHUT_WR);
	return NULL;
}

static void *pipe_dir(void *arg) {
	struct dir *d = arg;
	int p[2];
	if (pipe(p)) die("pipe");
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	ssize_t n;
	while ((n = splice(d->from, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_MORE)) > 0)
		while (n > 0) {
			ssize_t k = splice(p[0], NULL, d->to, NULL, n, SPLICE_F_MOVE | SPLICE_F_MORE);
			if (k <= 0) return NULL;
			n -= k;
		}
	shutdown(d->to, SHUT_WR);
	return NULL;
}

static unsigned long long cookie(int fd) {
	unsigned long long c;
	socklen_t l = sizeof c;
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &l)) die("SO_COOKIE");
	return c;
}

// Bytes written into fd's send queue so far: acknowledged plus still queued.
static unsigned long long queued_into(int fd) {
	struct tcp_info ti;
	socklen_t l = sizeof ti;
	int outq = 0;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) || ioctl(fd, SIOCOUTQ, &outq)) return 0;
	return ti.tcpi_bytes_acked + (unsigned long long)outq;
}

// The kernel sends redirected bytes from a work queue: a FIN passed on before it has handed them
// all to the peer's socket would overtake them. Waits for that, then passes the FIN on.
static void *skb_dir(void *arg) {
	struct dir *d = arg;
	unsigned long long c = cookie(d->from), redirected = 0;
	struct pollfd p = { .fd = d->from, .events = POLLRDHUP };
	char b;
	for (;;) {
		if (poll(&p, 1, -1) < 0) die("poll");
		if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) {
			ssize_t n = recv(d->from, &b, 1, MSG_PEEK | MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN)) break;
		}
		usleep(1000); // poll reports readiness for bytes the verdict program already took
	}
	for (int i = 0; i < 30000; i++) { // at most 30 s
		bpf_map_lookup_elem(bytes_fd, &c, &redirected);
		if (queued_into(d->to) >= redirected) break;
		usleep(1000);
	}
	shutdown(d->to, SHUT_WR);
	return NULL;
}

static void relay(enum mode mode, int client, int upstream) {
	struct dir up = { client, upstream }, down = { upstream, client };
	void *(*fn)(void *) = mode == COPY ? copy_dir : mode == PIPE ? pipe_dir : skb_dir;
	if (mode == SKB) {
		unsigned long long cc = cookie(client), uc = cookie(upstream), zero = 0;
		unsigned long long cfd = client, ufd = upstream;
		if (bpf_map_update_elem(peers_fd, &cc, &uc, BPF_ANY) || bpf_map_update_elem(peers_fd, &uc, &cc, BPF_ANY)
		    || bpf_map_update_elem(bytes_fd, &cc, &zero, BPF_ANY) || bpf_map_update_elem(bytes_fd, &uc, &zero, BPF_ANY)
		    || bpf_map_update_elem(socks_fd, &cc, &cfd, BPF_ANY) || bpf_map_update_elem(socks_fd, &uc, &ufd, BPF_ANY))
			die("adding the connection's sockets to the maps");
		// Bytes that arrived before the sockets joined the map were never shown to the verdict
		// program: they wait in the receive queue. Passed on here; the protocols measured (iperf3,
		// the slow receiver) send nothing more before they get an answer, so nothing overtakes them.
		char early[65536];
		for (int i = 0; i < 2; i++) {
			int from = i ? upstream : client, to = i ? client : upstream;
			ssize_t n = recv(from, early, sizeof early, MSG_DONTWAIT);
			if (n > 0 && write(to, early, n) != n) die("passing on early bytes");
		}
	}
	pthread_t t1, t2;
	pthread_create(&t1, NULL, fn, &up);
	pthread_create(&t2, NULL, fn, &down);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: relay copy|pipe|skb LISTEN_PORT UPSTREAM_PORT BPF_OBJECT\n");
		return 2;
	}
	enum mode mode = !strcmp(argv[1], "copy") ? COPY : !strcmp(argv[1], "pipe") ? PIPE : SKB;
	if (mode == SKB) {
		struct bpf_object *o = bpf_object__open_file(argv[4], NULL);
		if (!o || bpf_object__load(o)) die("loading the BPF object");
		socks_fd = bpf_object__find_map_fd_by_name(o, "probe_socks");
		peers_fd = bpf_object__find_map_fd_by_name(o, "probe_peers");
		bytes_fd = bpf_object__find_map_fd_by_name(o, "probe_bytes");
		int prog = bpf_program__fd(bpf_object__find_program_by_name(o, "probe_splice"));
		if (bpf_prog_attach(prog, socks_fd, BPF_SK_SKB_STREAM_VERDICT, 0)) die("attaching the verdict program");
	}
	signal(SIGCHLD, SIG_IGN); // no zombies from ended connections
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(l, (void *)&a, sizeof a) || listen(l, 64)) die("listen");
	for (;;) {
		int c = accept(l, NULL, NULL), u = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in ua = a;
		ua.sin_port = htons(atoi(argv[3]));
		if (c < 0 || connect(u, (void *)&ua, sizeof ua)) die("accept or connect");
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL); // ends with the relay, which the probe's script stops
			close(l);
			relay(mode, c, u);
			_exit(0);
		}
		close(c);
		close(u);
	}
}
