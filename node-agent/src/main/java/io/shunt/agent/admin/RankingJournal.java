package io.shunt.agent.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shunt.agent.AtomicFile;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.select.Selector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The ranking for new pods set live with {@code shuntctl technique set --default}, kept next to the
 * pod state file (as {@code <state-file>.ranking.json}, beside {@link ExclusionJournal}'s file) so a
 * restarted agent, or a {@code --take-over} successor, ranks new pods the same way. Unlike an
 * exclusion, a ranking is not a change on top of the command line: the recorded ranking replaces
 * the command line's {@code --technique} until it is set again or the file is deleted.
 */
public final class RankingJournal {
    private static final Logger LOG = LoggerFactory.getLogger(RankingJournal.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private volatile Optional<List<TechniqueId>> ranking;

    private RankingJournal(Path file, Optional<List<TechniqueId>> ranking) {
        this.file = file;
        this.ranking = ranking;
    }

    /**
     * The journal beside {@code stateFile}; empty when there is none yet. One that cannot be used
     * (not JSON, an unknown technique, an empty or repeated ranking) is never ignored quietly: it is
     * moved aside to {@code <file>.corrupt-<millis>}, and an error names the file, the problem and
     * where it went; new pods then get the command line's ranking.
     */
    public static RankingJournal besides(Path stateFile) throws IOException {
        Path file = stateFile.resolveSibling(stateFile.getFileName() + ".ranking.json");
        if (!Files.exists(file)) {
            return new RankingJournal(file, Optional.empty());
        }
        try {
            return new RankingJournal(file, Optional.of(parse(Files.readAllBytes(file))));
        } catch (IOException | IllegalArgumentException e) {
            Path aside = file.resolveSibling(file.getFileName() + ".corrupt-" + System.currentTimeMillis());
            Files.move(file, aside);
            LOG.error("the ranking set with 'shuntctl technique set --default' and kept in {} is not usable ({}); "
                    + "moved to {}; new pods get the command line's ranking until it is set again", file,
                    e.getMessage().lines().findFirst().orElse(""), aside);
            return new RankingJournal(file, Optional.empty());
        }
    }

    /** {@code {"ranking": ["tproxy", "redirect"]}}: the technique ids, best first. */
    static List<TechniqueId> parse(byte[] content) throws IOException {
        JsonNode root = JSON.readTree(content);
        JsonNode list = root == null ? null : root.get("ranking");
        if (list == null || !list.isArray()) {
            throw new IOException("expected {\"ranking\": [\"technique\", ...]}, found "
                    + (root == null || root.isMissingNode() ? "nothing" : root));
        }
        List<TechniqueId> ranking = new ArrayList<>();
        for (JsonNode id : list) {
            if (!id.isTextual()) {
                throw new IOException("the ranking holds " + id + ", not a technique name");
            }
            ranking.add(TechniqueId.fromId(id.asText()));
        }
        return new Selector(ranking).ranking(); // refuses an empty ranking and a repeated technique
    }

    /**
     * The ranking new pods get: the recorded one when there is one (logged, with the command
     * line's it overrides), else {@code commandLine}.
     */
    public List<TechniqueId> applyTo(List<TechniqueId> commandLine) {
        Optional<List<TechniqueId>> recorded = ranking;
        if (recorded.isEmpty()) {
            return commandLine;
        }
        if (recorded.get().equals(commandLine)) {
            LOG.info("ranking for new pods: {} from {} (set live with 'shuntctl technique set --default'), the same as "
                    + "the command line's", ids(recorded.get()), file);
        } else {
            LOG.info("ranking for new pods: {} from {} (set live with 'shuntctl technique set --default') overrides "
                    + "the command line's {}", ids(recorded.get()), file, ids(commandLine));
        }
        return recorded.get();
    }

    /** Records a ranking that was applied; written atomically. */
    synchronized void record(List<TechniqueId> next) throws IOException {
        AtomicFile.replace(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(Map.of("ranking", ids(next))),
                PosixFilePermissions.fromString("rw-------"));
        ranking = Optional.of(List.copyOf(next));
    }

    public Path file() {
        return file;
    }

    private static List<String> ids(List<TechniqueId> ranking) {
        return ranking.stream().map(TechniqueId::id).toList();
    }
}
