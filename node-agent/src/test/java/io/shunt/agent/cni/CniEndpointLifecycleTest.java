package io.shunt.agent.cni;

import io.shunt.api.cni.CniReply;
import io.shunt.api.cni.CniRequest.Command;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.BindException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.shunt.agent.cni.CniTestClient.call;
import static io.shunt.agent.cni.CniTestClient.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The socket file and the endpoint's start and close. */
@Timeout(60)
class CniEndpointLifecycleTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final long GENEROUS_SECONDS = 20;

    @TempDir
    Path dir;
    private final FakeCniHandler handler = new FakeCniHandler();
    private final List<CniEndpoint> endpoints = new ArrayList<>();
    private final ExecutorService clients = Executors.newCachedThreadPool();

    private CniEndpoint start(Path socket) throws IOException {
        CniEndpoint endpoint = CniEndpoint.start(socket, handler, 2, TIMEOUT);
        endpoints.add(endpoint);
        return endpoint;
    }

    @AfterEach
    void stop() {
        clients.shutdownNow();
        endpoints.forEach(e -> e.close(Duration.ofSeconds(2)));
    }

    @Test
    void createsAMissingParentDirectoryRootOnlyAndTheSocketRootOnly() throws IOException {
        Path socket = dir.resolve("run/shunt/cni.sock");

        start(socket);

        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("run"))));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket.getParent())));
        assertEquals("rw-------", PosixFilePermissions.toString(
                Files.getPosixFilePermissions(socket, LinkOption.NOFOLLOW_LINKS)));
        assertEquals(CniReply.success("redirect"), call(socket, request(Command.ADD)));
    }

    @Test
    void anExistingParentDirectoryKeepsItsMode() throws IOException {
        Path parent = Files.createDirectory(dir.resolve("shared"));
        Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString("rwxr-xr-x"));

        start(parent.resolve("cni.sock"));

        assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(parent)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(parent.resolve("cni.sock"))));
    }

    @Test
    void aStaleSocketFileNobodyAnswersOnIsReplaced() throws IOException {
        Path socket = dir.resolve("cni.sock");
        try (ServerSocketChannel crashed = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            crashed.bind(UnixDomainSocketAddress.of(socket)); // closing does not unlink: like a crash
        }
        assertTrue(Files.exists(socket, LinkOption.NOFOLLOW_LINKS));

        start(socket);

        assertEquals(CniReply.success("redirect"), call(socket, request(Command.ADD)));
    }

    @Test
    void aSocketSomeoneAnswersOnMakesStartFailAndIsLeftServing() throws IOException {
        Path socket = dir.resolve("cni.sock");
        CniEndpoint first = start(socket);

        BindException e = assertThrows(BindException.class, () -> start(socket));

        assertTrue(e.getMessage().contains("another Shunt agent already serves " + socket), e.getMessage());
        assertTrue(first.serving());
        assertTrue(Files.exists(socket, LinkOption.NOFOLLOW_LINKS));
        assertEquals(CniReply.success("redirect"), call(socket, request(Command.ADD)));
    }

    @Test
    void aFileThatIsNotASocketIsNeverReplaced() throws IOException {
        Path socket = Files.writeString(dir.resolve("cni.sock"), "someone's data");

        FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class, () -> start(socket));

        assertTrue(e.getMessage().contains("is not a Unix socket"), e.getMessage());
        assertEquals("someone's data", Files.readString(socket));
    }

    @Test
    void closeRemovesTheSocketFileStopsServingAndIsIdempotent() throws IOException {
        Path socket = dir.resolve("cni.sock");
        CniEndpoint endpoint = start(socket);
        assertTrue(endpoint.serving());

        endpoint.close();

        assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS));
        assertFalse(endpoint.serving());
        assertThrows(IOException.class, () -> call(socket, request(Command.ADD)));
        endpoint.close();
        // and the path can be served again at once
        start(socket);
        assertEquals(CniReply.success("redirect"), call(socket, request(Command.ADD)));
    }

    @Test
    void closeLeavesASuccessorsSocketAlone() throws IOException {
        Path socket = dir.resolve("cni.sock");
        CniEndpoint old = start(socket);
        Files.delete(socket);
        start(socket);

        old.close();

        assertTrue(Files.exists(socket, LinkOption.NOFOLLOW_LINKS));
        assertEquals(CniReply.success("redirect"), call(socket, request(Command.ADD)));
    }

    @Test
    void closeStopsAcceptingButLetsARequestInTheHandlerFinish() throws Exception {
        Path socket = dir.resolve("cni.sock");
        CniEndpoint endpoint = start(socket);
        CountDownLatch release = new CountDownLatch(1);
        handler.answer = r -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return CniReply.success("redirect");
        };
        Future<CniReply> inFlight = clients.submit(() -> call(socket, request(Command.ADD)));
        assertTrue(handler.entered.tryAcquire(GENEROUS_SECONDS, TimeUnit.SECONDS));

        Future<?> closing = clients.submit(() -> endpoint.close(Duration.ofSeconds(GENEROUS_SECONDS)));
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(GENEROUS_SECONDS);
        while (endpoint.serving() && System.nanoTime() < until) {
            Thread.sleep(10);
        }
        assertFalse(endpoint.serving());
        assertFalse(closing.isDone(), "close waits for the request in the handler");
        assertFalse(inFlight.isDone());

        release.countDown();

        assertEquals(CniReply.success("redirect"), inFlight.get(GENEROUS_SECONDS, TimeUnit.SECONDS));
        closing.get(GENEROUS_SECONDS, TimeUnit.SECONDS);
        assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void closeInterruptsAHandlerStillRunningAfterTheGrace() throws Exception {
        Path socket = dir.resolve("cni.sock");
        CniEndpoint endpoint = start(socket);
        CountDownLatch interrupted = new CountDownLatch(1);
        handler.answer = r -> {
            try {
                new CountDownLatch(1).await();
            } catch (InterruptedException e) {
                interrupted.countDown();
            }
            return CniReply.success("redirect");
        };
        Future<CniReply> inFlight = clients.submit(() -> call(socket, request(Command.ADD)));
        assertTrue(handler.entered.tryAcquire(GENEROUS_SECONDS, TimeUnit.SECONDS));

        endpoint.close(Duration.ofMillis(200));

        assertTrue(interrupted.await(GENEROUS_SECONDS, TimeUnit.SECONDS), "the handler was interrupted");
        assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS));
        var e = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> inFlight.get(GENEROUS_SECONDS, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof IOException, e.getCause().toString());
    }

    @Test
    void startRefusesNonsenseArguments() {
        Path socket = dir.resolve("cni.sock");
        assertThrows(IllegalArgumentException.class, () -> CniEndpoint.start(socket, handler, 0, TIMEOUT));
        assertThrows(IllegalArgumentException.class, () -> CniEndpoint.start(socket, handler, 1, Duration.ZERO));
        assertThrows(NullPointerException.class, () -> CniEndpoint.start(socket, null, 1, TIMEOUT));
        assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS));
    }
}
