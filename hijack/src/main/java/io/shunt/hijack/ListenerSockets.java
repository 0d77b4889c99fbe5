package io.shunt.hijack;

/**
 * The proxy's listening sockets of one pod, by fd in the agent's process, for a technique that
 * hands the sockets themselves to the kernel instead of naming their ports (the {@code tc}
 * technique inserts them into a SOCKMAP its sk_lookup program assigns from). The fds stay the
 * engine's: a hijacker must neither close nor keep them beyond the call.
 *
 * @param outboundFd the outbound listener's fd
 * @param inboundFd  the inbound listener's fd, or -1 when the pod's inbound traffic is not captured
 */
public record ListenerSockets(int outboundFd, int inboundFd) {
    public ListenerSockets {
        if (outboundFd < 0) {
            throw new IllegalArgumentException("outbound listener fd " + outboundFd + " is not an fd");
        }
        if (inboundFd < -1) {
            throw new IllegalArgumentException("inbound listener fd " + inboundFd + " is not an fd (or -1 for none)");
        }
    }
}
