package io.shunt.agent.admin;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shunt.agent.AtomicFile;
import io.shunt.hijack.policy.CapturePolicy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * The exclusions changed live with {@code shuntctl exclude}, kept next to the pod state file so a
 * restarted agent applies them again on top of its command line: each entry added or removed,
 * in order. The command line stays the base an operator edits; the journal records what was
 * changed since, and an entry changed twice is recorded once, as its last change.
 */
public final class ExclusionJournal {
    private static final Logger LOG = LoggerFactory.getLogger(ExclusionJournal.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One live change: {@code kind} and {@code value} as {@code shuntctl exclude} took them. */
    public record Change(String kind, String value, boolean added) {
    }

    private final Path file;
    private final List<Change> changes;

    private ExclusionJournal(Path file, List<Change> changes) {
        this.file = file;
        this.changes = new ArrayList<>(changes);
    }

    /** The journal beside {@code stateFile}; empty when there is none yet. An unreadable one is set aside. */
    public static ExclusionJournal besides(Path stateFile) throws IOException {
        Path file = stateFile.resolveSibling(stateFile.getFileName() + ".exclusions.json");
        if (!Files.exists(file)) {
            return new ExclusionJournal(file, List.of());
        }
        try {
            return new ExclusionJournal(file, JSON.readValue(file.toFile(), new TypeReference<List<Change>>() {
            }));
        } catch (IOException e) {
            Path aside = file.resolveSibling(file.getFileName() + ".corrupt-" + System.currentTimeMillis());
            Files.move(file, aside);
            LOG.error("the live exclusions in {} are unreadable ({}); moved to {}; starting from the command line's",
                    file, e.getMessage(), aside);
            return new ExclusionJournal(file, List.of());
        }
    }

    /** The command line's policy with the recorded changes applied; a change that no longer parses is skipped. */
    public CapturePolicy applyTo(CapturePolicy base) {
        CapturePolicy policy = base;
        for (Change c : changes) {
            try {
                Exclusion<?> e = Exclusion.parse(c.kind(), c.value());
                policy = c.added() ? e.addTo(policy) : e.removeFromIfPresent(policy);
            } catch (AdminException e) {
                LOG.warn("skipping the recorded live exclusion change {} {} from {}: {}", c.added() ? "add" : "remove",
                        c.kind() + " " + c.value(), file, e.getMessage());
            }
        }
        if (!changes.isEmpty()) {
            LOG.info("applied {} live exclusion change(s) recorded in {} on top of the command line", changes.size(), file);
        }
        return policy;
    }

    /** Records a change that was applied; written atomically. */
    synchronized void record(String kind, String value, boolean added) throws IOException {
        changes.removeIf(c -> c.kind().equals(kind) && c.value().equals(value));
        changes.add(new Change(kind, value, added));
        AtomicFile.replace(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(changes),
                PosixFilePermissions.fromString("rw-------"));
    }

    public Path file() {
        return file;
    }
}
