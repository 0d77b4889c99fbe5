package io.shunt.agent.cni;

import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniWire;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/** The plugin's side, as plainly as possible: connect, send, read the reply. */
final class CniTestClient {
    static final String CONTAINER = "3f9a0c1e2d4b5a6978877665544332211";

    private CniTestClient() {
    }

    static CniRequest request(CniRequest.Command command) {
        return switch (command) {
            case STATUS -> new CniRequest(command, "", "", "", "", "", "", List.of(), List.of());
            case GC -> new CniRequest(command, "", "", "", "", "", "", List.of(), List.of(CONTAINER, "other-1"));
            default -> CniRequest.forContainer(command, CONTAINER, "/var/run/netns/cni-1234", "eth0",
                    "default", "web-1", "uid-1", List.of("10.22.0.5/16"));
        };
    }

    static CniReply call(Path socket, CniRequest request) throws IOException {
        try (SocketChannel channel = connect(socket)) {
            CniWire.write(Channels.newOutputStream(channel), request);
            return CniWire.read(Channels.newInputStream(channel), CniReply.class);
        }
    }

    /** Sends raw bytes, then reads the reply line. */
    static CniReply send(Path socket, byte[] raw) throws IOException {
        try (SocketChannel channel = connect(socket)) {
            channel.write(ByteBuffer.wrap(raw));
            return CniWire.read(Channels.newInputStream(channel), CniReply.class);
        }
    }

    static CniReply send(Path socket, String raw) throws IOException {
        return send(socket, raw.getBytes(StandardCharsets.UTF_8));
    }

    static SocketChannel connect(Path socket) throws IOException {
        return SocketChannel.open(UnixDomainSocketAddress.of(socket));
    }

    /** Everything the server sends until it closes the connection. */
    static String readToEnd(SocketChannel channel) throws IOException {
        InputStream in = Channels.newInputStream(channel);
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        in.transferTo(all);
        return all.toString(StandardCharsets.UTF_8);
    }
}
