package io.shunt.agent.standalone;

import io.shunt.api.admin.AdminReply;
import io.shunt.api.admin.AdminRequest;
import io.shunt.api.admin.AdminWire;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.ConnectException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * The successor's side of an upgrade: the old agent, found on the admin socket, first stops taking
 * new pods (so the state file is final), then, once this agent listens beside it and owns the
 * rules, stops accepting and drains. Between the two steps both agents accept connections.
 */
final class HandOver {
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration LET_GO_TIMEOUT = Duration.ofSeconds(10);

    private final Path adminSocket;

    private HandOver(Path adminSocket) {
        this.adminSocket = adminSocket;
    }

    /** Logged lazily: a logger made in a static field would configure logging before --log-format is read. */
    static Logger log() {
        return LoggerFactory.getLogger(HandOver.class);
    }

    /**
     * Asks the agent on {@code adminSocket} to stop taking new pods. Empty when no agent answers
     * there: then there is nothing to take over and this agent starts as usual.
     */
    static Optional<HandOver> prepare(Path adminSocket, Path stateFile) throws IOException {
        if (adminSocket == null || stateFile == null) {
            throw new IllegalArgumentException("--take-over needs the old agent's --admin-socket and --state-file");
        }
        if (!Files.exists(adminSocket)) {
            log().info("take-over: no agent answers on {}; starting without a predecessor", adminSocket);
            return Optional.empty();
        }
        try {
            String done = call(adminSocket, "handover-prepare");
            log().info("take-over: the old agent says: {}", done);
            return Optional.of(new HandOver(adminSocket));
        } catch (ConnectException e) {
            log().info("take-over: nothing listens on {} (a stale socket); starting without a predecessor", adminSocket);
            return Optional.empty();
        }
    }

    /** Tells the old agent to let go, then waits until its admin socket is gone, so ours can take the path. */
    void release() throws IOException {
        log().info("take-over: the old agent says: {}", call(adminSocket, "handover-release"));
        long deadline = System.nanoTime() + LET_GO_TIMEOUT.toNanos();
        while (answers(adminSocket)) {
            if (System.nanoTime() > deadline) {
                throw new IOException("the old agent still answers on " + adminSocket + " " + LET_GO_TIMEOUT.toSeconds()
                        + " s after the hand-over");
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the old agent to let go", e);
            }
        }
    }

    /** The successor gives up before release: the old agent takes new pods again and keeps everything. */
    void abort() {
        try {
            log().info("take-over abandoned; the old agent says: {}", call(adminSocket, "handover-abort"));
        } catch (IOException e) {
            log().error("take-over abandoned, and the old agent could not be told ({}); it serves its pods but "
                    + "takes no new ones until restarted", e.getMessage());
        }
    }

    private static boolean answers(Path socket) {
        try (SocketChannel ignored = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String call(Path socket, String command) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            Thread watchdog = Thread.ofVirtual().start(() -> {
                try {
                    Thread.sleep(CALL_TIMEOUT);
                    channel.close();
                } catch (InterruptedException | IOException e) {
                    // done in time, or already closed
                }
            });
            try {
                AdminWire.writeRequest(Channels.newOutputStream(channel), AdminRequest.of(command, Map.of()));
                AdminReply reply = AdminWire.readReply(Channels.newInputStream(channel));
                if (!reply.ok()) {
                    throw new IOException("the old agent refused " + command + ": " + reply.error());
                }
                return reply.result().path("summary").asText();
            } finally {
                watchdog.interrupt();
            }
        }
    }
}
