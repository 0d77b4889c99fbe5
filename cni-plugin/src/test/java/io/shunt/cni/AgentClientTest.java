package io.shunt.cni;

import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniWire;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AgentClientTest {
    @TempDir
    Path dir;

    /**
     * The order that breaks a naive client: the agent answers "busy" and closes before the plugin
     * sent anything, so the plugin's send fails with EPIPE; the answer must still be read.
     */
    @Test
    void readsTheAnswerOfAnAgentThatClosedBeforeTheRequestWasSent() throws IOException {
        Path socket = dir.resolve("agent.sock");
        AgentClient client = new AgentClient(socket, Duration.ofSeconds(5));
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
                 Selector selector = Selector.open()) {
                try (SocketChannel accepted = server.accept()) {
                    CniWire.write(Channels.newOutputStream(accepted),
                            CniReply.failure(CniReply.TRY_AGAIN_LATER, "agent busy", "16 requests in progress"));
                }
                channel.configureBlocking(false);
                SelectionKey key = channel.register(selector, 0);

                CniReply reply = client.exchange(channel, key, request(), System.nanoTime() + 5_000_000_000L);

                assertEquals(CniReply.TRY_AGAIN_LATER, reply.code());
                assertEquals("agent busy", reply.msg());
            }
        }
    }

    @Test
    void aSendThatFailsWithNothingToReadIsStillAFailure() throws IOException {
        Path socket = dir.resolve("agent.sock");
        AgentClient client = new AgentClient(socket, Duration.ofSeconds(5));
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
                 Selector selector = Selector.open()) {
                server.accept().close();
                channel.configureBlocking(false);
                SelectionKey key = channel.register(selector, 0);

                assertThrows(IOException.class,
                        () -> client.exchange(channel, key, request(), System.nanoTime() + 5_000_000_000L));
            }
        }
    }

    private static byte[] request() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CniWire.write(out, new CniRequest(CniRequest.Command.ADD, "c1", "/var/run/netns/c1", "eth0", "", "", "",
                List.of(), List.of()));
        return out.toByteArray();
    }
}
