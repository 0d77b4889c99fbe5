package io.shunt.proxy;

import java.io.IOException;
import java.net.InetSocketAddress;

/** A pod's listener could not be opened; nothing of that pod was left open. */
public final class ListenerBindException extends IOException {
    public ListenerBindException(String pod, Direction direction, InetSocketAddress address, String netns,
                                 Throwable cause) {
        super("pod " + pod + ": cannot open the " + direction.id() + " listener on " + address.getAddress().getHostAddress()
                + ":" + address.getPort() + " inside " + netns + ": " + cause.getMessage()
                + (isInUse(cause) ? "; another process listens there (see: ip netns exec <netns> ss -ltnp), "
                + "stop it or choose other listener ports" : ""), cause);
    }

    private static boolean isInUse(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (String.valueOf(c.getMessage()).contains("in use")) {
                return true;
            }
        }
        return false;
    }
}
