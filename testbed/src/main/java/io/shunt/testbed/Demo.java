package io.shunt.testbed;

import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.Hijackers;
import io.shunt.hijack.TechniqueId;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The standalone demo ({@code ./shunt demo}): local "pods" in network namespaces, the agent
 * probing the kernel and intercepting them with the best technique it offers, real connections
 * between them, and what the agent saw.
 * Everything it creates is removed at the end, also on Ctrl-C.
 */
public final class Demo {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Pattern CONNECTION = Pattern.compile(
            "pod=(\\S+) technique=(\\S+) connection direction=(\\S+) client=(\\S+) original_dst=(\\S+) "
                    + "bytes_from_client=(\\d+) bytes_from_upstream=(\\d+) .*outcome=(\\S+)");

    private final PrintStream out = System.out;
    private int failures;

    public static void main(String[] args) throws Exception {
        System.exit(new Demo().run());
    }

    private int run() throws Exception {
        List<String> leftovers = Topology.removeLeftovers("demo");
        if (!leftovers.isEmpty()) {
            out.println("Removed namespaces left by an earlier, interrupted demo: " + leftovers);
        }
        heading("1. Topology: two pods and an upstream, each in its own network namespace (nothing in the root namespace)");
        try (Topology topology = Topology.create("demo", 2)) {
            PodNs podA = topology.pod(0);
            PodNs podB = topology.pod(1);
            InetSocketAddress service = new InetSocketAddress(topology.serviceAddress(0), 8080);
            InetSocketAddress database = new InetSocketAddress(topology.serviceAddress(1), 5432);
            InetSocketAddress app = new InetSocketAddress(podA.address(), 8080);
            out.printf("   %-8s %-15s %s%n", "pod-a", podA.address().getHostAddress(), podA.netnsPath());
            out.printf("   %-8s %-15s %s%n", "pod-b", podB.address().getHostAddress(), podB.netnsPath());
            out.printf("   %-8s %-15s services %s (echo) and %s (a \"database\" we exclude)%n", "upstream",
                    "10.201.x.1", hostPort(service), hostPort(database));

            try (NetNs up = topology.upstream().open(); NetNs nsA = podA.open(); NetNs nsB = podB.open();
                 EchoServer serviceServer = EchoServer.start(up, service);
                 EchoServer databaseServer = EchoServer.start(up, database);
                 EchoServer appServer = EchoServer.start(nsA, app)) {
                out.println("   echo servers listening: " + hostPort(service) + ", " + hostPort(database)
                        + ", and an app in pod-a on " + hostPort(app));

                heading("2. Start the agent: it probes the kernel, picks the best technique for each pod (tc, else tproxy, "
                        + "else redirect),\n   intercepts pod-a and pod-b, and excludes " + database.getAddress().getHostAddress() + "/32");
                List<String> agentArgs = List.of("--pod", "pod-a=" + podA.netnsPath(), "--pod", "pod-b=" + podB.netnsPath(),
                        "--exclude-cidr", database.getAddress().getHostAddress() + "/32", "--log-connections");
                out.println("   shunt-agent " + String.join(" ", agentArgs));
                try (AgentProcess agent = AgentProcess.start(agentArgs, out, Duration.ofSeconds(60))) {
                    TechniqueId chosen = chosenFor(agent, "pod-a");
                    heading("3. What the agent installed in pod-a for " + chosen.id() + ", as the kernel reports it "
                            + "(shuntctl rules shows the same)");
                    Hijackers.of(chosen).installed(nsA).orElse("(nothing: this is a bug)").lines()
                            .forEach(l -> out.println("   " + l));

                    heading("4. Real connections");
                    List<Row> rows = new ArrayList<>();
                    rows.add(exchange(agent, "pod-a -> service", nsA, service, 1, true));
                    rows.add(exchange(agent, "pod-b -> app in pod-a", nsB, app, 2, true));
                    rows.add(exchange(agent, "pod-a -> excluded database", nsA, database, 0, false));

                    heading("5. What the agent saw");
                    out.printf("   %-27s %-10s %-9s %-9s %-9s %-21s %-21s %s%n", "request", "result", "pod", "technique", "direction",
                            "original destination", "client as seen", "bytes (client/upstream)");
                    for (Row row : rows) {
                        for (Map<String, String> c : row.connections()) {
                            out.printf("   %-27s %-10s %-9s %-9s %-9s %-21s %-21s %s/%s%n", row.label(), "captured", c.get("pod"),
                                    c.get("technique"), c.get("direction"), c.get("original_dst"), c.get("client"),
                                    c.get("bytes_from_client"), c.get("bytes_from_upstream"));
                        }
                        if (row.connections().isEmpty()) {
                            out.printf("   %-27s %-10s %-9s %-9s %-9s %-21s%n", row.label(), "bypassed", "-", "-", "-", "(excluded CIDR)");
                        }
                        out.println("   " + " ".repeat(27) + " upstream said: \"" + row.hello() + "\"");
                    }
                    out.println("   The upstream of an outbound connection sees the pod's own address, as it would without Shunt.");
                    out.println("   The app in pod-a sees its own pod address as the client of an inbound connection: the proxy");
                    out.println("   delivers it from inside the pod.");

                    heading("6. Stop the agent (SIGTERM): it removes everything it installed");
                    int exit = agent.stop(Duration.ofSeconds(20));
                    check(exit == 0, "agent exited with " + exit);
                }
                for (PodNs pod : List.of(podA, podB)) {
                    String rules = Topology.exec(pod.netnsName(), "nft", "list", "ruleset").strip();
                    check(rules.isEmpty(), pod.name() + " has no nftables rules left" + (rules.isEmpty() ? "" : ":\n" + rules));
                    try (NetNs ns = pod.open()) {
                        for (TechniqueId technique : TechniqueId.values()) {
                            var left = Hijackers.of(technique).installed(ns);
                            check(left.isEmpty(), pod.name() + " has nothing of " + technique.id() + " left"
                                    + left.map(l -> ":\n" + l).orElse(""));
                        }
                    }
                }
            }
        }
        out.println();
        out.println(failures == 0 ? "Demo passed: traffic was intercepted, relayed with its original destination, "
                + "and everything was cleaned up." : "Demo FAILED: " + failures + " check(s) failed, see above.");
        return failures == 0 ? 0 : 1;
    }

    /** One request: connect from inside a pod, echo a payload, and collect the agent's connection lines. */
    private Row exchange(AgentProcess agent, String label, NetNs from, InetSocketAddress target, int expectedConnections,
                         boolean captured) throws IOException, InterruptedException {
        byte[] payload = ("GET / from " + label + "\n").getBytes();
        PodClient.Exchange e = PodClient.exchange(from, target, payload);
        check(new String(e.echoedBytes()).equals(new String(payload)), label + ": the payload came back intact");
        List<Map<String, String>> seen = new ArrayList<>();
        for (int i = 0; i < expectedConnections; i++) {
            String line = agent.nextConnection(WAIT);
            check(line != null, label + ": the agent logged connection " + (i + 1) + " of " + expectedConnections);
            if (line != null) {
                seen.add(parse(line));
            }
        }
        if (!captured) {
            String line = agent.nextConnection(Duration.ofSeconds(1));
            check(line == null, label + ": the agent did not see it" + (line == null ? "" : " (it logged: " + line + ")"));
        }
        for (Map<String, String> c : seen) {
            check(c.get("original_dst").equals(hostPort(target)), label + ": original destination " + c.get("original_dst")
                    + " is " + hostPort(target));
            check(Long.parseLong(c.get("bytes_from_client")) == payload.length, label + ": " + payload.length
                    + " bytes from the client were relayed");
        }
        out.println("   " + label + ": sent " + payload.length + " bytes, got them back; "
                + (captured ? "intercepted (" + seen.size() + " hop" + (seen.size() == 1 ? "" : "s") + " through the proxy)"
                : "not intercepted, as configured"));
        return new Row(label, e.helloLine(), seen);
    }

    private static Map<String, String> parse(String line) {
        Matcher m = CONNECTION.matcher(line);
        if (!m.find()) {
            throw new IllegalStateException("unexpected connection line from the agent: " + line);
        }
        return Map.of("pod", m.group(1), "technique", m.group(2), "direction", m.group(3), "client", m.group(4),
                "original_dst", m.group(5), "bytes_from_client", m.group(6), "bytes_from_upstream", m.group(7),
                "outcome", m.group(8));
    }

    private void check(boolean ok, String what) {
        if (!ok) {
            failures++;
            out.println("   CHECK FAILED: " + what);
        }
    }

    private void heading(String text) {
        out.println();
        out.println(text);
    }

    private static String hostPort(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    private record Row(String label, String hello, List<Map<String, String>> connections) {
    }

    /** The technique the agent's ready line reports for {@code pod}, e.g. {@code pod-a=tc}. */
    private static TechniqueId chosenFor(AgentProcess agent, String pod) {
        String ready = agent.output().stream().filter(l -> l.startsWith("shunt-agent ready")).findFirst().orElseThrow();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(pod) + "=(\\w+)").matcher(ready);
        if (!m.find()) {
            throw new IllegalStateException("the agent's ready line does not name " + pod + "'s technique: " + ready);
        }
        return TechniqueId.fromId(m.group(1));
    }
}
