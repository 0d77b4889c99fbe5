package io.shunt.agent.admin;

import io.shunt.api.admin.AdminReply.ErrorKind;

import java.net.InetAddress;
import java.net.InetSocketAddress;

/** {@code 10.0.3.7:5432} or {@code [fd00::7]:5432}, literal addresses only: explain never resolves names. */
final class DestinationParser {
    private DestinationParser() {
    }

    static InetSocketAddress parse(String text) throws AdminException {
        String notValid = "destination '" + text + "' is not ADDRESS:PORT with a literal address, e.g. 10.0.3.7:5432";
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new AdminException(ErrorKind.BAD_REQUEST, notValid);
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw new AdminException(ErrorKind.BAD_REQUEST, notValid + " (write IPv6 as [ADDRESS]:PORT)");
        }
        int port;
        InetAddress address;
        try {
            port = Integer.parseInt(text.substring(colon + 1));
            address = InetAddress.ofLiteral(host);
        } catch (IllegalArgumentException e) {
            throw new AdminException(ErrorKind.BAD_REQUEST, notValid);
        }
        if (port < 1 || port > 65535) {
            throw new AdminException(ErrorKind.BAD_REQUEST, "destination port " + port + " in '" + text
                    + "' is out of range 1..65535");
        }
        return new InetSocketAddress(address, port);
    }
}
