package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The soak without a kernel: its command line, its fd budget, reading the agent's ready line, the bytes it expects. */
class SoakTest {

    @Test
    void defaultsAreTenMinutes200Pods5000ConnectionsAnd200NewPerSecond() {
        Soak.Options o = Soak.Options.parse();
        assertEquals(10, o.minutes());
        assertEquals(200, o.pods());
        assertEquals(Topology.MAX_PODS, o.routablePods());
        assertEquals(5000, o.connections());
        assertEquals(200, o.churnPerSecond());
        assertEquals(Duration.ofSeconds(1), o.period());
        assertEquals(10, o.sampleSeconds());
        assertEquals("auto", o.transport());
        assertEquals("auto", o.technique());
        assertEquals(1.0, o.flatMibPerMinute());
        assertEquals(List.of(), o.agentJvmOptions());
        assertEquals(Path.of("target/soak.json"), o.json());
    }

    @Test
    void optionsAreParsedAndBounded() {
        Soak.Options o = Soak.Options.parse("--minutes", "1", "--pods", "10", "--connections", "300", "--churn", "0",
                "--period-ms", "250", "--sample-seconds", "5", "--transport", "nio", "--technique", "redirect",
                "--flat-mib-per-minute", "2.5", "--json", "x.json");
        assertEquals(1, o.minutes());
        assertEquals(10, o.pods());
        assertEquals(10, o.routablePods(), "fewer pods than a topology holds: all routable");
        assertEquals(300, o.connections());
        assertEquals(0, o.churnPerSecond());
        assertEquals(Duration.ofMillis(250), o.period());
        assertEquals(2.5, o.flatMibPerMinute());
        assertEquals(List.of("-Xmx128m", "-XX:+UseSerialGC"),
                Soak.Options.parse("--agent-jvm-options", " -Xmx128m  -XX:+UseSerialGC ").agentJvmOptions());
        assertNull(Soak.Options.parse("--minutes", "1", "--help"));

        for (String[] bad : new String[][]{{"--minutes", "0"}, {"--minutes", "121"}, {"--connections", "20001"},
                {"--churn", "-1"}, {"--pods", "1001"}, {"--routable-pods", "27"}, {"--pods", "5", "--routable-pods", "6"},
                {"--flat-mib-per-minute", "0"}, {"--flat-mib-per-minute", "x"}, {"--transport", "IO URING"},
                {"--minutes"}, {"--seconds", "5"}, {"--agent-jvm-options", "Xmx128m"},
                {"--agent-jvm-options", "-Xmx1g;rm"}}) {
            assertThrows(IllegalArgumentException.class, () -> Soak.Options.parse(bad), String.join(" ", bad));
        }
    }

    @Test
    void theAgentNeedsTwoFdsPerConnectionPlusItsPodsListeners() {
        Soak.Options o = Soak.Options.parse();
        // 5000 pool + 200 churn in flight at most, two sockets each; 8 per pod; 1024 slack.
        assertEquals(2 * 5200 + 8 * 200 + 1024, o.agentFdsNeeded());
        assertEquals(2 * 5200 + 1024, o.ownFdsNeeded());
    }

    @Test
    void techniquesAreCountedFromTheReadyLine() {
        String ready = "shunt-agent ready: intercepting 4 pod(s) on io_uring: idle-0=tproxy, idle-1=tproxy, pod-a=redirect,"
                + " pod-b=tproxy";
        assertEquals(Map.of("tproxy", 3, "redirect", 1), Soak.techniques(ready));
        assertEquals("intercepting 4 pod(s) on io_uring", Soak.readySummary(ready));
        assertEquals(Map.of(), Soak.techniques("?"));
        assertEquals("?", Soak.readySummary("?"));
    }

    @Test
    void requestsCarryTheirPayloadWithItsLengthAndAskForACloseOnlyWhenChurning() {
        String keepAlive = new String(SoakLoad.request("10.201.0.10:8080", false), StandardCharsets.US_ASCII);
        assertEquals("POST /soak HTTP/1.1\r\nHost: 10.201.0.10:8080\r\nContent-Length: 64\r\n\r\n"
                + new String(SoakLoad.PAYLOAD, StandardCharsets.US_ASCII), keepAlive);
        assertEquals(64, SoakLoad.PAYLOAD.length);
        String close = new String(SoakLoad.request("h:1", true), StandardCharsets.US_ASCII);
        assertTrue(close.contains("\r\nConnection: close\r\n\r\n"), close);
        HttpRequestHead head = HttpRequestHead.parse(close.substring(0, close.indexOf("\r\n\r\n") + 4)
                .getBytes(StandardCharsets.US_ASCII));
        assertTrue(head.valid() && !head.keepAlive() && head.contentLength() == 64, head.toString());
    }
}
