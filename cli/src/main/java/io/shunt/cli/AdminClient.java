package io.shunt.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.shunt.api.admin.AdminReply;
import io.shunt.api.admin.AdminRequest;
import io.shunt.api.admin.AdminWire;

import java.io.IOException;
import java.net.ConnectException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/** One admin call to the agent: connect, send the request, read the reply, all within a timeout. */
final class AdminClient {
    private final Path socket;
    private final Duration timeout;

    AdminClient(Path socket, Duration timeout) {
        this.socket = socket;
        this.timeout = timeout;
    }

    /** The command's result; a refusal or an unreachable agent becomes a {@link CliException}. */
    JsonNode call(String command, Map<String, String> args) throws CliException {
        AdminReply reply = send(AdminRequest.of(command, args));
        if (!reply.ok()) {
            throw new CliException(ExitCode.of(reply.kind()), reply.error());
        }
        return reply.result();
    }

    private AdminReply send(AdminRequest request) throws CliException {
        if (!Files.exists(socket)) {
            throw new CliException(ExitCode.AGENT_UNREACHABLE, "the shunt agent is not running: no admin socket at "
                    + socket + " (start it with --admin-socket " + socket + ", or point --socket at its socket)");
        }
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().factory());
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            // Blocking I/O on a Unix channel has no timeout of its own: closing it ends a stuck read.
            timer.schedule(() -> {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // closing to end the wait
                }
            }, timeout.toMillis(), TimeUnit.MILLISECONDS);
            AdminWire.writeRequest(Channels.newOutputStream(channel), request);
            return AdminWire.readReply(Channels.newInputStream(channel));
        } catch (ConnectException e) {
            throw new CliException(ExitCode.AGENT_UNREACHABLE, "the shunt agent is not running: nothing listens on "
                    + socket);
        } catch (AccessDeniedException e) {
            throw new CliException(ExitCode.AGENT_UNREACHABLE, "permission denied on " + socket
                    + ": the admin socket is root-only; run shuntctl as root");
        } catch (IOException e) {
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            if (why.contains("Permission denied")) {
                throw new CliException(ExitCode.AGENT_UNREACHABLE, "permission denied on " + socket
                        + ": the admin socket is root-only; run shuntctl as root");
            }
            throw new CliException(ExitCode.AGENT_UNREACHABLE, "no answer from the shunt agent on " + socket
                    + " within " + timeout.toSeconds() + " s: " + why);
        } finally {
            timer.shutdownNow();
        }
    }
}
