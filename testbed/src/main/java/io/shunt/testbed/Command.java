package io.shunt.testbed;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs one external command (ip, sysctl, nft, wrk) with a timeout, capturing stdout and stderr so
 * a failure can be reported with what the tool said.
 */
final class Command {
    /** Long enough for any ip/sysctl call on a loaded machine; short enough that a stuck one is noticed. */
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    /** How long to wait for the output pipes to close after the process exited or was killed. */
    private static final Duration DRAIN_GRACE = Duration.ofSeconds(5);

    private Command() {
    }

    /** Runs {@code argv} and returns its stdout; throws {@link CommandException} on a non-zero exit. */
    static String run(List<String> argv, Duration timeout, String hint) throws IOException {
        Process process = start(argv);
        // Both pipes are drained concurrently: a tool that fills one pipe while we block on the other would hang.
        CompletableFuture<String> stdout = drain(process.getInputStream());
        CompletableFuture<String> stderr = drain(process.getErrorStream());
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor(DRAIN_GRACE.toMillis(), TimeUnit.MILLISECONDS);
                throw new CommandException(argv, CommandException.TIMED_OUT, collect(stderr, argv),
                        "timeout was " + timeout.toSeconds() + " s; " + hint);
            }
            String err = collect(stderr, argv);
            String out = collect(stdout, argv);
            if (process.exitValue() != 0) {
                throw new CommandException(argv, process.exitValue(), err, hint);
            }
            return out;
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while running `" + String.join(" ", argv) + "`");
        }
    }

    /** Starts {@code argv} with piped stdin/stdout/stderr; the caller drains and ends it. */
    static Process start(List<String> argv) throws IOException {
        try {
            return new ProcessBuilder(argv).start();
        } catch (IOException e) {
            throw new IOException("cannot start `" + String.join(" ", argv) + "`: " + e.getMessage()
                    + " — is " + argv.getFirst() + " installed and on PATH?", e);
        }
    }

    private static CompletableFuture<String> drain(InputStream stream) {
        CompletableFuture<String> result = new CompletableFuture<>();
        // Reading a pipe touches no namespace, so a virtual thread is fine here.
        Thread.ofVirtual().name("command-output").start(() -> {
            try (stream) {
                result.complete(new String(stream.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                result.completeExceptionally(new UncheckedIOException(e));
            }
        });
        return result;
    }

    private static String collect(CompletableFuture<String> output, List<String> argv)
            throws IOException, InterruptedException {
        try {
            return output.get(DRAIN_GRACE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            // A grandchild kept the pipe open after the command exited; report what we know.
            return "(output still open " + DRAIN_GRACE.toSeconds() + " s after exit)";
        } catch (ExecutionException e) {
            throw new IOException("reading the output of `" + String.join(" ", argv) + "` failed", e.getCause());
        }
    }
}
