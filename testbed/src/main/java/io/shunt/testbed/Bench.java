package io.shunt.testbed;

import io.shunt.ffi.netns.NetNs;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code ./shunt bench}: HTTP through each interception technique versus direct, measured in one
 * run on one topology. The agent (a separate process) intercepts pod-a with redirect and pod-b
 * with tproxy; pod-c is not intercepted. All load the same upstream with wrk, keep-alive at each
 * connection count and with a new connection per request. Modes alternate within each round so
 * drift on a shared machine hits them alike; the table shows medians over the rounds.
 */
public final class Bench {
    private final PrintStream out = System.out;
    private final Duration duration;
    private final int rounds;
    private final List<Integer> connections;
    private final String transport;
    private final int newConnections;

    private Bench(Duration duration, int rounds, List<Integer> connections, int newConnections, String transport) {
        this.newConnections = newConnections;
        this.duration = duration;
        this.rounds = rounds;
        this.connections = connections;
        this.transport = transport;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = options(args);
        Bench bench = new Bench(Duration.ofSeconds(Integer.parseInt(opts.getOrDefault("--seconds", "5"))),
                Integer.parseInt(opts.getOrDefault("--rounds", "3")),
                Arrays.stream(opts.getOrDefault("--connections", "1,32").split(",")).map(Integer::parseInt).toList(),
                Integer.parseInt(opts.getOrDefault("--new-connections", "32")),
                opts.getOrDefault("--transport", "auto"));
        bench.run(Path.of(opts.getOrDefault("--json", "target/bench.json")));
    }

    private void run(Path json) throws Exception {
        requireWrk();
        Topology.removeLeftovers("bench");
        try (Topology topology = Topology.create("bench", 3); NetNs up = topology.upstream().open()) {
            Map<String, PodNs> pods = new LinkedHashMap<>();
            pods.put("direct", topology.pod(2));
            pods.put("redirect", topology.pod(0));
            pods.put("tproxy", topology.pod(1));
            InetSocketAddress service = new InetSocketAddress(topology.serviceAddress(0), 8080);
            String url = "http://" + service.getAddress().getHostAddress() + ":" + service.getPort() + "/";
            try (HttpServer server = HttpServer.start(up, service);
                 AgentProcess agent = AgentProcess.start(List.of(
                         "--pod", "pod-a=" + pods.get("redirect").netnsPath(), "--pod-technique", "pod-a=redirect",
                         "--pod", "pod-b=" + pods.get("tproxy").netnsPath(), "--pod-technique", "pod-b=tproxy",
                         "--transport", transport), null, Duration.ofSeconds(60))) {
                String agentTransport = agent.output().stream().filter(l -> l.startsWith("shunt-agent ready"))
                        .findFirst().orElse("?");
                out.printf("Shunt bench: HTTP/1.1 keep-alive, %d-byte body, wrk %d s per run, %d rounds, %d cores%n",
                        HttpServer.BODY_LENGTH, duration.toSeconds(), rounds, Runtime.getRuntime().availableProcessors());
                out.println("agent: " + agentTransport + " (pid " + agent.pid() + ")");
                for (PodNs pod : pods.values()) {
                    // JIT and connection setup; not measured.
                    wrk(pod, url, 32, false, Duration.ofSeconds(2));
                }
                Map<String, List<Sample>> samples = new LinkedHashMap<>();
                for (int round = 1; round <= rounds; round++) {
                    for (int c : connections) {
                        for (var mode : pods.entrySet()) {
                            samples.computeIfAbsent(mode.getKey() + " c=" + c, k -> new ArrayList<>())
                                    .add(sample(mode.getValue(), url, c, false, mode.getKey().equals("direct") ? -1 : agent.pid()));
                        }
                    }
                    if (newConnections > 0) {
                        for (var mode : pods.entrySet()) {
                            samples.computeIfAbsent(mode.getKey() + " new-conn c=" + newConnections, k -> new ArrayList<>())
                                    .add(sample(mode.getValue(), url, newConnections, true,
                                            mode.getKey().equals("direct") ? -1 : agent.pid()));
                        }
                    }
                    out.println("round " + round + " of " + rounds + " done");
                }
                report(samples, rssKib(agent.pid()), json);
                if (agent.stop(Duration.ofSeconds(20)) != 0) {
                    throw new IllegalStateException("the agent did not stop cleanly");
                }
            }
        }
    }

    private Sample sample(PodNs pod, String url, int c, boolean newConnectionEach, long agentPid) throws IOException {
        double cpuBefore = agentPid > 0 ? cpuSeconds(agentPid) : 0;
        WrkResult r = wrk(pod, url, c, newConnectionEach, duration);
        double cpu = agentPid > 0 ? cpuSeconds(agentPid) - cpuBefore : Double.NaN;
        if (r.errors() > 0) {
            throw new IllegalStateException(r.errors() + " errors in a run from " + pod.name() + " at c=" + c);
        }
        return new Sample(r, cpu);
    }

    private WrkResult wrk(PodNs pod, String url, int c, boolean newConnectionEach, Duration d) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("wrk", "-t1", "-c" + c, "-d" + d.toSeconds() + "s", "--latency"));
        if (newConnectionEach) {
            cmd.addAll(List.of("-H", "Connection: close"));
        }
        cmd.add(url);
        return WrkResult.parse(Topology.exec(pod.netnsName(), d.plusSeconds(30), cmd.toArray(String[]::new)));
    }

    private void report(Map<String, List<Sample>> samples, long rssKib, Path json) throws IOException {
        out.println();
        out.printf("%-24s %12s %10s %10s %14s %18s%n", "mode", "req/s", "p50 us", "p99 us", "vs direct", "agent CPU s/1k req");
        StringBuilder js = new StringBuilder("{\n  \"agent_rss_kib\": " + rssKib + ",\n  \"results\": [\n");
        List<String> entries = new ArrayList<>();
        for (var entry : samples.entrySet()) {
            String mode = entry.getKey();
            double rps = median(entry.getValue().stream().mapToDouble(s -> s.wrk().requestsPerSec()).toArray());
            double p50 = median(entry.getValue().stream().mapToDouble(s -> s.wrk().p50Micros()).toArray());
            double p99 = median(entry.getValue().stream().mapToDouble(s -> s.wrk().p99Micros()).toArray());
            double cpuPerK = median(entry.getValue().stream()
                    .mapToDouble(s -> s.agentCpuSeconds() / s.wrk().requests() * 1000).toArray());
            String baseline = mode.replaceFirst("^\\S+", "direct");
            String ratio = "";
            if (!baseline.equals(mode)) {
                double directRps = median(samples.get(baseline).stream().mapToDouble(s -> s.wrk().requestsPerSec()).toArray());
                double directP50 = median(samples.get(baseline).stream().mapToDouble(s -> s.wrk().p50Micros()).toArray());
                ratio = String.format(Locale.ROOT, "%.2fx, +%.0fus", rps / directRps, p50 - directP50);
            }
            out.printf(Locale.ROOT, "%-24s %12.0f %10.0f %10.0f %14s %18s%n", mode, rps, p50, p99, ratio,
                    Double.isNaN(cpuPerK) ? "-" : String.format(Locale.ROOT, "%.4f", cpuPerK));
            entries.add(String.format(Locale.ROOT, "    {\"mode\": \"%s\", \"req_per_s\": %.0f, \"p50_us\": %.1f, "
                    + "\"p99_us\": %.1f, \"agent_cpu_s_per_1k_req\": %s}", mode, rps, p50, p99,
                    Double.isNaN(cpuPerK) ? "null" : String.format(Locale.ROOT, "%.5f", cpuPerK)));
        }
        js.append(String.join(",\n", entries)).append("\n  ]\n}\n");
        out.printf("agent RSS at the end: %.1f MiB%n", rssKib / 1024.0);
        Files.createDirectories(json.toAbsolutePath().getParent());
        Files.writeString(json, js);
        out.println("figures also written to " + json);
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** User plus system CPU time of a process, from /proc (clock ticks of 1/100 s on Linux). */
    private static double cpuSeconds(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
    }

    private static long rssKib(long pid) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                .map(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(-1L);
    }

    private static void requireWrk() throws IOException {
        try {
            new ProcessBuilder("wrk", "--version").redirectErrorStream(true).start().waitFor();
        } catch (IOException e) {
            throw new IOException("wrk is not installed: run ./shunt setup (Debian package wrk)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--help") || args[i].equals("-h")) {
                System.out.println("""
                        Usage: ./shunt bench [--seconds N] [--rounds N] [--connections 1,32] [--new-connections 32|0]
                                             [--transport auto|io_uring|epoll|nio] [--json FILE]
                        Measures HTTP req/s and p50/p99 latency through each technique (redirect, tproxy) versus
                        direct, in one run on one namespace topology: keep-alive at each connection count, and
                        one new connection per request (--new-connections, 0 to skip). Also the agent's CPU per
                        1,000 requests and its RSS.""");
                System.exit(0);
            }
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                System.err.println("shunt bench: unexpected argument '" + args[i] + "'; see ./shunt bench --help");
                System.exit(2);
            }
            opts.put(args[i], args[++i]);
        }
        return opts;
    }

    private record Sample(WrkResult wrk, double agentCpuSeconds) {
    }
}
