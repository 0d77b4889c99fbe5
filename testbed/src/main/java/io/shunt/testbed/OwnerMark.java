package io.shunt.testbed;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Optional;

/**
 * Records which process owns a topology prefix, so that {@link Topology#removeLeftovers} removes
 * the namespaces of crashed runs but never those of a run that is still alive (a parallel test fork
 * or a second demo). The mark is a small file under {@code /run} (tmpfs, gone after a reboot, like
 * the namespaces themselves) holding the owner's pid and start time; pid plus start time survives
 * pid reuse.
 */
final class OwnerMark {
    static final Path DIR = Path.of("/run/shunt-testbed");
    static final String SUFFIX = ".owner";

    private OwnerMark() {
    }

    /** Creates the mark for {@code prefix}; false if another run already holds it. */
    static boolean tryClaim(String prefix) throws IOException {
        ProcessHandle self = ProcessHandle.current();
        Files.createDirectories(DIR);
        try {
            Files.writeString(file(prefix), self.pid() + " " + startMillis(self).orElse(0L) + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        }
    }

    static void remove(String prefix) throws IOException {
        Files.deleteIfExists(file(prefix));
    }

    /** True when the process that wrote the mark is still running; false when it is gone or there is no mark. */
    static boolean ownerAlive(String prefix) throws IOException {
        String content;
        try {
            content = Files.readString(file(prefix), StandardCharsets.UTF_8).strip();
        } catch (NoSuchFileException e) {
            return false;
        }
        String[] fields = content.split("\\s+");
        if (fields.length != 2) {
            return false;
        }
        try {
            long pid = Long.parseLong(fields[0]);
            long start = Long.parseLong(fields[1]);
            return ProcessHandle.of(pid)
                    .filter(ProcessHandle::isAlive)
                    .map(p -> startMillis(p).orElse(0L) == start)
                    .orElse(false);
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** The topology prefix a mark file belongs to, or empty if {@code file} is not a mark. */
    static Optional<String> prefixOf(Path file) {
        String name = file.getFileName().toString();
        return name.endsWith(SUFFIX)
                ? Optional.of(name.substring(0, name.length() - SUFFIX.length()) + "-")
                : Optional.empty();
    }

    static Path file(String prefix) {
        // "shunt-kt-1a2b-" -> "shunt-kt-1a2b.owner"
        return DIR.resolve(prefix.substring(0, prefix.length() - 1) + SUFFIX);
    }

    private static Optional<Long> startMillis(ProcessHandle process) {
        return process.info().startInstant().map(Instant::toEpochMilli);
    }
}
