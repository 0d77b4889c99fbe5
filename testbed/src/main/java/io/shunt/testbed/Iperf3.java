package io.shunt.testbed;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Bulk throughput for {@code ./shunt bench}: one iperf3 server in the upstream namespace, and one
 * iperf3 client at a time in a pod, one TCP stream for a fixed time. iperf3 opens a control
 * connection and a data connection; both go through whatever intercepts the pod.
 */
final class Iperf3 {
    static final int PORT = 5201;
    /** A client that finds the server still finishing the previous test retries this often, 1 s apart. */
    private static final int BUSY_ATTEMPTS = 5;
    private static final Duration CLIENT_GRACE = Duration.ofSeconds(20);
    private static final ObjectMapper JSON = new ObjectMapper();

    private Iperf3() {
    }

    /**
     * The receiver's figures of one test: for a pod sending, the server's; with {@code -R}, the pod's.
     *
     * @param retransmits TCP retransmits the sender counted, -1 if iperf3 did not say
     */
    record Result(double bitsPerSecond, long bytes, long retransmits) {
        double gbitPerSecond() {
            return bitsPerSecond / 1e9;
        }
    }

    /** Starts {@code iperf3 -s} on {@code bind} in {@code netnsName}; returns once it listens. */
    static BenchDaemon startServer(String netnsName, InetSocketAddress bind) throws IOException {
        BenchDaemon server = BenchDaemon.start("iperf3-server", netnsName, "iperf3", "-s",
                "-B", bind.getAddress().getHostAddress(), "-p", Integer.toString(bind.getPort()));
        try {
            server.awaitListening(bind.getPort(), Duration.ofSeconds(10));
            return server;
        } catch (IOException | RuntimeException e) {
            try {
                server.close();
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** The client's command line: one stream for {@code duration}, JSON out, {@code -R} for server to client. */
    static List<String> clientCommand(InetSocketAddress server, Duration duration, boolean reverse) {
        List<String> cmd = new ArrayList<>(List.of("iperf3", "-c", server.getAddress().getHostAddress(),
                "-p", Integer.toString(server.getPort()), "-t", Long.toString(duration.toSeconds()), "-P", "1",
                "-J", "--connect-timeout", "5000"));
        if (reverse) {
            cmd.add("-R");
        }
        return cmd;
    }

    /** Runs one test from {@code netnsName}; bounded by {@code duration} plus 20 s per attempt. */
    static Result run(String netnsName, InetSocketAddress server, Duration duration, boolean reverse) throws IOException {
        List<String> cmd = clientCommand(server, duration, reverse);
        for (int attempt = 1; ; attempt++) {
            String json = runOnce(netnsName, cmd, duration.plus(CLIENT_GRACE));
            String error = error(json);
            if (error == null) {
                return parse(json);
            }
            if (!error.contains("busy") || attempt == BUSY_ATTEMPTS) {
                throw new IOException("iperf3 from " + netnsName + " failed: " + error);
            }
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for the iperf3 server");
            }
        }
    }

    /** The client's JSON, whatever its exit status: iperf3 -J reports its errors there too. */
    private static String runOnce(String netnsName, List<String> cmd, Duration timeout) throws IOException {
        Process p = Topology.start(netnsName, cmd.toArray(String[]::new));
        CompletableFuture<String> stdout = CompletableFuture.supplyAsync(() -> readAll(p), Thread::startVirtualThread);
        CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> {
            try (var err = p.getErrorStream()) {
                return new String(err.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, Thread::startVirtualThread);
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                throw new IOException("iperf3 in " + netnsName + " did not finish within " + timeout.toSeconds()
                        + " s and was killed");
            }
            String out = stdout.get(5, TimeUnit.SECONDS);
            if (out.isBlank()) {
                throw new IOException("iperf3 in " + netnsName + " exited with status " + p.exitValue()
                        + " and printed no JSON: " + stderr.get(5, TimeUnit.SECONDS).strip());
            }
            return out;
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while running iperf3 in " + netnsName);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("reading iperf3's output in " + netnsName + " failed", e);
        }
    }

    private static String readAll(Process p) {
        try (var in = p.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The {@code error} iperf3 -J reported, or null. */
    static String error(String json) {
        JsonNode error = tree(json).get("error");
        return error == null ? null : error.asText();
    }

    /** Reads the receiver's rate and byte count ({@code end.sum_received}) and the sender's retransmits. */
    static Result parse(String json) {
        JsonNode end = tree(json).path("end");
        JsonNode received = end.path("sum_received");
        if (!received.path("bits_per_second").isNumber() || !received.path("bytes").isNumber()) {
            throw new IllegalArgumentException("iperf3 JSON has no end.sum_received figures: "
                    + json.substring(0, Math.min(json.length(), 500)));
        }
        return new Result(received.get("bits_per_second").asDouble(), received.get("bytes").asLong(),
                end.path("sum_sent").path("retransmits").asLong(-1));
    }

    private static JsonNode tree(String json) {
        try {
            return JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("iperf3 printed no JSON: " + json.substring(0, Math.min(json.length(), 500)), e);
        }
    }
}
