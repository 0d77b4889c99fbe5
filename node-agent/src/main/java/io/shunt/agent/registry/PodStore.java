package io.shunt.agent.registry;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shunt.agent.AtomicFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Set;

/**
 * The pods the agent intercepts, kept in one JSON file so a restarted agent takes them back. Every
 * write goes to a temporary file in the same directory, is forced to disk and renamed over the old
 * one, so a crash mid-write leaves either the old or the new file, never half of one.
 */
public final class PodStore {
    private static final Logger LOG = LoggerFactory.getLogger(PodStore.class);
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    /** Pod names and namespaces are nobody else's business. */
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private final Path file;

    public PodStore(Path file) {
        this.file = file.toAbsolutePath();
    }

    public Path file() {
        return file;
    }

    /**
     * The persisted pods; none when the file does not exist yet. A file that cannot be read as
     * pods is moved aside (its name says where) and treated as empty, so one bad write never keeps
     * the agent from starting.
     */
    public List<PodRecord> load() throws IOException {
        if (!Files.exists(file)) {
            return List.of();
        }
        try {
            List<PodRecord> pods = JSON.readValue(file.toFile(), new TypeReference<List<PodRecord>>() {
            });
            return pods == null ? List.of() : List.copyOf(pods);
        } catch (IOException | RuntimeException e) {
            Path aside = file.resolveSibling(file.getFileName() + ".corrupt-" + Instant.now().toEpochMilli());
            Files.move(file, aside, StandardCopyOption.REPLACE_EXISTING);
            LOG.error("pod state file {} is unreadable ({}); moved it to {} and starting without persisted pods",
                    file, e.getMessage(), aside);
            return List.of();
        }
    }

    public void save(List<PodRecord> pods) throws IOException {
        AtomicFile.replace(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(pods), OWNER_ONLY);
    }
}
