package io.shunt.agent.admin;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.shunt.hijack.TechniqueId;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static io.shunt.hijack.TechniqueId.REDIRECT;
import static io.shunt.hijack.TechniqueId.TC;
import static io.shunt.hijack.TechniqueId.TPROXY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RankingJournalTest {
    private static final List<TechniqueId> COMMAND_LINE = List.of(TC, TPROXY, REDIRECT);

    @TempDir
    Path dir;

    private final ListAppender<ILoggingEvent> log = new ListAppender<>();

    @BeforeEach
    void captureLog() {
        log.start();
        ((Logger) LoggerFactory.getLogger(RankingJournal.class)).addAppender(log);
    }

    @AfterEach
    void releaseLog() {
        ((Logger) LoggerFactory.getLogger(RankingJournal.class)).detachAppender(log);
    }

    @Test
    void aRecordedRankingOverridesTheCommandLinesAfterARestartAndSaysSo() throws IOException {
        Path state = dir.resolve("pods.json");
        RankingJournal journal = RankingJournal.besides(state);
        assertEquals(COMMAND_LINE, journal.applyTo(COMMAND_LINE), "nothing recorded yet");
        assertTrue(log.list.isEmpty(), "nothing to say without a recorded ranking: " + log.list);

        journal.record(List.of(TPROXY));
        journal.record(List.of(REDIRECT, TPROXY)); // the last one set wins
        assertEquals(dir.resolve("pods.json.ranking.json"), journal.file());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(journal.file())));

        List<TechniqueId> restarted = RankingJournal.besides(state).applyTo(COMMAND_LINE);

        assertEquals(List.of(REDIRECT, TPROXY), restarted);
        String line = log.list.getLast().getFormattedMessage();
        assertTrue(line.contains("[redirect, tproxy] from " + journal.file()) && line.contains("overrides the command "
                + "line's [tc, tproxy, redirect]"), line);
    }

    @ParameterizedTest
    @ValueSource(strings = {"{ not json", "{\"ranking\": [\"tproxy\", \"warp\"]}", "{\"ranking\": []}",
            "{\"ranking\": [\"tc\", \"tc\"]}", "[\"tproxy\"]", "{\"ranking\": [7]}", ""})
    void aBadRankingIsAClearErrorAndKeptAsideNeverSilentlyDropped(String content) throws IOException {
        Path state = dir.resolve("pods.json");
        Path file = dir.resolve("pods.json.ranking.json");
        Files.writeString(file, content);

        List<TechniqueId> ranking = RankingJournal.besides(state).applyTo(COMMAND_LINE);

        assertEquals(COMMAND_LINE, ranking, "the command line's ranking, since the recorded one is unusable");
        assertFalse(Files.exists(file), "moved aside, so the next start does not trip over it again");
        Path aside;
        try (var files = Files.list(dir)) {
            aside = files.filter(f -> f.getFileName().toString().startsWith("pods.json.ranking.json.corrupt-"))
                    .findFirst().orElseThrow(() -> new AssertionError("the bad ranking was deleted, not kept aside"));
        }
        assertEquals(content, Files.readString(aside), "kept as it was, for the operator to look at");
        ILoggingEvent error = log.list.stream().filter(e -> e.getLevel().toString().equals("ERROR")).findFirst()
                .orElseThrow(() -> new AssertionError("no error logged: " + log.list));
        String message = error.getFormattedMessage();
        assertTrue(message.contains(file.toString()) && message.contains(aside.toString())
                && message.contains("command line's ranking") && !message.contains("\n"), message);
        if (content.contains("warp")) {
            assertTrue(message.contains("unknown technique 'warp'"), message);
        }
    }
}
