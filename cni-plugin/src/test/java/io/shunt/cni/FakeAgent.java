package io.shunt.cni;

import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest;
import io.shunt.api.cni.CniWire;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A stand-in for the agent's CNI endpoint: a Unix socket that records each request and answers
 * what the test scripted, or holds the connection without answering, or closes it unanswered.
 */
final class FakeAgent implements AutoCloseable {
    enum Mode { ANSWER, SILENT, HANG_UP }

    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread acceptor;
    private final List<CniRequest> requests = new CopyOnWriteArrayList<>();
    private final List<SocketChannel> held = new CopyOnWriteArrayList<>();
    private volatile Function<CniRequest, CniReply> answer = request -> CniReply.success("redirect");
    private volatile Mode mode = Mode.ANSWER;

    private FakeAgent(Path socket) throws IOException {
        this.socket = socket;
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        this.acceptor = Thread.ofPlatform().daemon().name("fake-agent").start(this::serve);
    }

    static FakeAgent start(Path dir) throws IOException {
        return new FakeAgent(dir.resolve("agent.sock"));
    }

    Path socket() {
        return socket;
    }

    FakeAgent answering(CniReply reply) {
        return answering(request -> reply);
    }

    FakeAgent answering(Function<CniRequest, CniReply> answer) {
        this.answer = answer;
        this.mode = Mode.ANSWER;
        return this;
    }

    FakeAgent mode(Mode mode) {
        this.mode = mode;
        return this;
    }

    List<CniRequest> requests() {
        return List.copyOf(requests);
    }

    CniRequest onlyRequest() {
        List<CniRequest> all = requests();
        if (all.size() != 1) {
            throw new AssertionError("expected exactly one request to the agent, got " + all);
        }
        return all.getFirst();
    }

    private void serve() {
        while (server.isOpen()) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return;
            }
            try {
                requests.add(CniWire.read(Channels.newInputStream(client), CniRequest.class));
                switch (mode) {
                    case ANSWER -> {
                        CniWire.write(Channels.newOutputStream(client), answer.apply(requests.getLast()));
                        client.close();
                    }
                    case SILENT -> held.add(client);
                    case HANG_UP -> client.close();
                }
            } catch (IOException e) {
                closeQuietly(client);
            }
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        try {
            acceptor.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        held.forEach(FakeAgent::closeQuietly);
        Files.deleteIfExists(socket);
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // the test is over for this connection
        }
    }
}
