package io.shunt.testbed;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ./shunt bench without a kernel: its command line, its time estimate, reading the agent's ready line. */
class BenchTest {

    @Test
    void defaultsAreThreeRoundsOfFiveSecondsWithBulkWithinTenMinutes() {
        Bench.Options o = Bench.Options.parse();
        assertEquals(Duration.ofSeconds(5), o.duration());
        assertEquals(3, o.rounds());
        assertEquals(List.of(1, 32), o.connections());
        assertEquals(32, o.newConnections());
        assertEquals(Duration.ofSeconds(5), o.bulkDuration());
        assertEquals(Duration.ofSeconds(2), o.warmup());
        assertEquals("auto", o.transport());
        assertEquals(Duration.ofSeconds(600), o.timeLimit());
        assertFalse(o.quick());
        assertEquals(Path.of("target/bench.json"), o.json());
        assertEquals(List.of(new BenchReport.Load(1, false), new BenchReport.Load(32, false),
                new BenchReport.Load(32, true)), o.loads());
        assertEquals(6, Bench.Options.MODES, "direct, redirect, tproxy, tc, sockmap, haproxy");
        assertEquals(List.of(false, true), o.warmupKinds(), "each mode warms up with keep-alive and with new connections");
        assertTrue(o.estimatedSeconds(Bench.Options.MODES) <= 600, "estimate " + o.estimatedSeconds(Bench.Options.MODES));
    }

    @Test
    void quickChangesOnlyTheDefaultsAndFitsInTwoMinutes() {
        Bench.Options quick = Bench.Options.parse("--quick");
        assertTrue(quick.quick());
        assertEquals(Duration.ofSeconds(2), quick.duration());
        assertEquals(1, quick.rounds());
        assertEquals(Duration.ofSeconds(2), quick.bulkDuration());
        assertEquals(Duration.ofSeconds(1), quick.warmup());
        assertEquals(Duration.ofSeconds(120), quick.timeLimit());
        assertTrue(quick.estimatedSeconds(Bench.Options.MODES) <= 120, "estimate " + quick.estimatedSeconds(Bench.Options.MODES));

        Bench.Options explicit = Bench.Options.parse("--rounds", "2", "--quick", "--seconds", "3", "--time-limit", "300");
        assertEquals(2, explicit.rounds());
        assertEquals(Duration.ofSeconds(3), explicit.duration());
        assertEquals(Duration.ofSeconds(3), explicit.bulkDuration(), "bulk follows --seconds unless given");
        assertEquals(Duration.ofSeconds(300), explicit.timeLimit());
        assertMessage("over the time limit of 120 s", "--quick", "--rounds", "2", "--seconds", "3");
    }

    @Test
    void theOldOptionsStillWork() {
        Bench.Options o = Bench.Options.parse("--seconds", "4", "--rounds", "1", "--connections", "1, 8,1",
                "--new-connections", "0", "--transport", "nio", "--json", "x.json", "--bulk-seconds", "0",
                "--time-limit", "300");
        assertEquals(Duration.ofSeconds(4), o.duration());
        assertEquals(List.of(1, 8), o.connections());
        assertEquals(List.of(new BenchReport.Load(1, false), new BenchReport.Load(8, false)), o.loads());
        assertEquals("nio", o.transport());
        assertEquals(Path.of("x.json"), o.json());
        assertEquals(Duration.ZERO, o.bulkDuration());
        assertEquals(Duration.ofSeconds(300), o.timeLimit());
        // 1 round x 2 loads x 4 modes x (4 + 0.5) s, no bulk, 4 keep-alive warm-ups of 2 + 0.5 s, 20 s set-up
        assertEquals(List.of(false), o.warmupKinds(), "no new-connection load, so no warm-up of it");
        assertEquals(36 + 10 + 20, o.estimatedSeconds(4));
    }

    @Test
    void helpIsNull() {
        assertNull(Bench.Options.parse("--quick", "--help"));
        assertNull(Bench.Options.parse("-h"));
    }

    @Test
    void badValuesAreRejectedNamingTheOption() {
        assertMessage("--seconds 0: give a whole number from 1 to 60", "--seconds", "0");
        assertMessage("--rounds x: give a whole number from 1 to 9", "--rounds", "x");
        assertMessage("'600' is not a connection count from 1 to 512", "--connections", "1,600");
        assertMessage("'' is not a connection count", "--connections", "1,");
        assertMessage("--time-limit 30: give a whole number from 60 to 3600", "--time-limit", "30");
        assertMessage("--transport 'io uring'", "--transport", "io uring");
        assertMessage("unknown argument '--fast'", "--fast");
        assertMessage("--rounds needs a value", "--rounds");
        assertMessage("this plan takes about 3740 s, over the time limit of 600 s", "--seconds", "20", "--rounds", "6");
    }

    @Test
    void theTransportIsReadFromTheAgentsReadyLine() {
        assertEquals("io_uring", Bench.agentTransport(
                "shunt-agent ready: intercepting 2 pod(s) on io_uring: pod-a=redirect, pod-b=tproxy"));
        assertEquals("nio", Bench.agentTransport("shunt-agent ready: intercepting 1 pod(s) on nio: pod-a=redirect"));
        assertEquals("?", Bench.agentTransport("?"));
    }

    @Test
    void everyRowIsItsTechniquesIdAndTheTransportsAreGrouped() {
        assertEquals("sockmap", Bench.mode(io.shunt.hijack.TechniqueId.SOCKMAP));
        assertEquals("tc", Bench.mode(io.shunt.hijack.TechniqueId.TC));
        java.util.Map<String, String> transports = new java.util.LinkedHashMap<>();
        transports.put("redirect", "io_uring");
        transports.put("tc", "io_uring");
        transports.put("sockmap", "nio");
        assertEquals("redirect, tc on io_uring; sockmap on nio", Bench.describe(transports));
    }

    private static void assertMessage(String expected, String... args) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Bench.Options.parse(args));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
