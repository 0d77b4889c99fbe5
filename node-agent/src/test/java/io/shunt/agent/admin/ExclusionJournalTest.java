package io.shunt.agent.admin;

import io.shunt.hijack.policy.CapturePolicy;
import io.shunt.hijack.policy.Cidr;
import io.shunt.hijack.policy.PortRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ExclusionJournalTest {
    @TempDir
    Path dir;

    @Test
    void liveChangesAreAppliedAgainOnTopOfTheCommandLineAfterARestart() throws IOException {
        Path state = dir.resolve("pods.json");
        CapturePolicy commandLine = CapturePolicy.defaults()
                .withExcludeOutboundPorts(List.of(PortRange.parse("22"), PortRange.parse("9000")));
        ExclusionJournal journal = ExclusionJournal.besides(state);
        assertEquals(commandLine, journal.applyTo(commandLine), "nothing recorded yet");

        journal.record("cidr", "10.96.0.0/12", true);
        journal.record("port", "9000", false);
        journal.record("port", "5432", true);
        journal.record("port", "5432", false); // its last change wins
        journal.record("uid", "1337", true);

        CapturePolicy restarted = ExclusionJournal.besides(state).applyTo(commandLine);
        assertEquals(List.of(Cidr.parse("10.96.0.0/12")), restarted.excludeOutboundCidrs());
        assertEquals(List.of(PortRange.parse("22")), restarted.excludeOutboundPorts());
        assertEquals("[uid:1337]", restarted.excludeOutboundOwners().toString());
    }

    @Test
    void anUnreadableJournalIsSetAsideAndTheCommandLineRules() throws IOException {
        Path state = dir.resolve("pods.json");
        Files.writeString(dir.resolve("pods.json.exclusions.json"), "{ not json");

        CapturePolicy policy = ExclusionJournal.besides(state).applyTo(CapturePolicy.defaults());

        assertEquals(CapturePolicy.defaults(), policy);
        try (var files = Files.list(dir)) {
            assertTrue(files.anyMatch(f -> f.getFileName().toString().startsWith("pods.json.exclusions.json.corrupt-")));
        }
    }
}
