package io.shunt.kerneltests;

import com.fasterxml.jackson.databind.JsonNode;
import io.shunt.api.admin.AdminReply;
import io.shunt.api.admin.AdminRequest;
import io.shunt.api.admin.AdminWire;
import io.shunt.testbed.AgentProcess;
import io.shunt.testbed.PodNs;
import io.shunt.testbed.Topology;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.shunt.kerneltests.KernelTestSupport.with;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What shuntctl changes live, kept with {@code --state-file}: the ranking set with
 * {@code technique set --default} and the exclusions changed with {@code exclude}, applied again by
 * a restarted agent and by a {@code --take-over} successor, and refused while a hand-over is
 * prepared (the successor has read them already).
 */
class PersistedLiveChangesTest {

    @Test
    void theDefaultRankingAndExclusionsSurviveARestartAndATakeOver() throws Exception {
        Path dir = Files.createTempDirectory("shunt-ktpersist");
        try (Topology topology = Topology.create("ktpersist", 3)) {
            PodNs podA = topology.pod(0);
            PodNs podB = topology.pod(1);
            PodNs podC = topology.pod(2);
            Path socket = dir.resolve("admin.sock");
            List<String> base = List.of("--state-file", dir.resolve("pods.json").toString(),
                    "--admin-socket", socket.toString(), "--technique", "tproxy,redirect");
            AgentProcess first = AgentProcess.start(with(base, "--pod", "pod-a=" + podA.netnsPath()), null,
                    Duration.ofSeconds(60));
            AgentProcess second = null;
            AgentProcess third = null;
            try {
                assertEquals("tproxy", technique(socket, "pod-a"));
                ctl(socket, "technique", "set", "--default", "redirect").assertExit(0)
                        .assertOut("kept across restarts in " + dir.resolve("pods.json.ranking.json"));
                ctl(socket, "exclude", "add", "--port", "9999").assertExit(0);
                assertEquals(0, first.stop(Duration.ofSeconds(30)));

                // Restarted: the recorded ranking overrides the command line's, for the pod added now.
                second = AgentProcess.start(with(base, "--pod", "pod-a=" + podA.netnsPath(),
                        "--pod", "pod-b=" + podB.netnsPath()), null, Duration.ofSeconds(60));
                assertTrue(second.output().stream().anyMatch(l -> l.contains("ranking for new pods: [redirect] from "
                        + dir.resolve("pods.json.ranking.json")) && l.contains("overrides the command line's [tproxy, redirect]")),
                        String.join("\n", second.output()));
                JsonNode status = ctl(socket, "status", "-o", "json").assertExit(0).json();
                assertEquals("[\"redirect\"]", status.get("ranking").toString());
                assertTrue(status.toString().contains("9999"), "the exclusion is back: " + status);
                assertEquals("redirect", technique(socket, "pod-b"));

                // While a hand-over is prepared, live changes are refused: the successor would miss them.
                assertTrue(call(socket, "handover-prepare").ok());
                ctl(socket, "technique", "set", "--default", "tproxy").assertExit(5).assertErrLine("taking this one's pods over");
                ctl(socket, "exclude", "add", "--port", "7777").assertExit(5);
                assertTrue(call(socket, "handover-abort").ok());
                ctl(socket, "exclude", "add", "--port", "7777").assertExit(0);

                // A successor picks both up too, for the pods it adds.
                third = AgentProcess.start(with(base, "--pod", "pod-a=" + podA.netnsPath(), "--pod", "pod-b="
                        + podB.netnsPath(), "--pod", "pod-c=" + podC.netnsPath(), "--take-over"), null, Duration.ofSeconds(60));
                status = ctl(socket, "status", "-o", "json").assertExit(0).json();
                assertEquals("[\"redirect\"]", status.get("ranking").toString());
                assertTrue(status.toString().contains("9999") && status.toString().contains("7777"), status.toString());
                assertEquals("redirect", technique(socket, "pod-c"));
                assertEquals(0, second.stop(Duration.ofSeconds(30)), String.join("\n", second.output()));
            } finally {
                first.close();
                if (second != null) {
                    second.close();
                }
                if (third != null) {
                    third.close();
                }
            }
        } finally {
            KernelTestSupport.deleteRecursively(dir);
        }
    }

    private static String technique(Path socket, String pod) {
        for (JsonNode p : ctl(socket, "pods", "-o", "json").assertExit(0).json()) {
            if (p.get("name").asText().equals(pod)) {
                return p.get("technique").asText();
            }
        }
        throw new AssertionError("no pod " + pod);
    }

    private static ShuntctlRun ctl(Path socket, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--socket");
        all.add(socket.toString());
        return ShuntctlRun.of(all.toArray(String[]::new));
    }

    /** An admin command shuntctl does not offer (the hand-over's steps), straight over the socket. */
    private static AdminReply call(Path socket, String command) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            AdminWire.writeRequest(Channels.newOutputStream(channel), AdminRequest.of(command, Map.of()));
            return AdminWire.readReply(Channels.newInputStream(channel));
        }
    }
}
