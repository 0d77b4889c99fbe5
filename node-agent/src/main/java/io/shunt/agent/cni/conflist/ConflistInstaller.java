package io.shunt.agent.cni.conflist;

import io.shunt.agent.AtomicFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Chains Shunt into the node's primary CNI network configuration and takes it out again.
 *
 * <p>The primary configuration is the one the runtime uses: the first {@code *.conflist},
 * {@code *.conf} or {@code *.json} file of the directory in name order (libcni's order), unless one
 * is pinned by name. Before Shunt first changes a file, the file as the primary CNI wrote it is
 * copied to the backup directory; every write is atomic, so a runtime never reads half a file.
 *
 * <p>Not thread-safe: one guard or one command uses an installer at a time.
 */
public final class ConflistInstaller {
    public static final String DEFAULT_BACKUP_DIR = "/var/lib/shunt/cni-backup";
    private static final Logger LOG = LoggerFactory.getLogger(ConflistInstaller.class);
    private static final List<String> EXTENSIONS = List.of(".conflist", ".conf", ".json");
    /** A primary CNI rewriting the file while Shunt reads it: read again, a few times at most. */
    private static final int ATTEMPTS = 3;

    private final Path confDir;
    private final Optional<String> pinned;
    private final Path backupDir;
    private final ChainEntry entry;

    public ConflistInstaller(Path confDir, Optional<String> pinned, Path backupDir, ChainEntry entry) {
        pinned.ifPresent(name -> {
            if (name.contains("/") || EXTENSIONS.stream().noneMatch(name::endsWith)) {
                throw new IllegalArgumentException("the conflist to chain into must be a file name in " + confDir
                        + " ending in .conflist, .conf or .json, not '" + name + "'");
            }
        });
        this.confDir = confDir.toAbsolutePath();
        this.pinned = pinned;
        this.backupDir = backupDir.toAbsolutePath();
        this.entry = entry;
    }

    public Path confDir() {
        return confDir;
    }

    /**
     * Makes sure the primary configuration chains Shunt, rewriting it if it does not (first
     * install, or another component replaced it). Idempotent: nothing is written when Shunt is
     * chained already.
     */
    public ConflistState ensure() throws IOException {
        for (int attempt = 1; ; attempt++) {
            Optional<Path> primary = primary();
            if (primary.isEmpty()) {
                return ConflistState.noPrimary(confDir);
            }
            NetworkConfigFile config;
            try {
                config = NetworkConfigFile.parse(primary.get(), Files.readAllBytes(primary.get()));
            } catch (NoSuchFileException e) {
                continue; // replaced between listing and reading
            } catch (InvalidConfigException e) {
                return ConflistState.invalid(primary.get(), e.getMessage());
            }
            if (config.chains(entry)) {
                return ConflistState.present(config.file());
            }
            if (unchanged(config)) {
                return chain(config);
            }
            if (attempt == ATTEMPTS) {
                return ConflistState.invalid(primary.get(), "it kept changing while Shunt read it");
            }
        }
    }

    private ConflistState chain(NetworkConfigFile config) throws IOException {
        boolean firstChange = !config.mentionsShunt();
        if (firstChange) {
            // The file as the primary CNI wrote it, for operators to compare or restore by hand.
            AtomicFile.replace(backupDir.resolve(config.file().getFileName()), config.bytes(), Set.of(
                    PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));
        }
        Path target = config.chainedFile();
        AtomicFile.replace(target, config.withEntry(entry), Files.getPosixFilePermissions(config.file()));
        if (!target.equals(config.file())) {
            // A .conf next to its .conflist would sort first and win: the chained list replaces it.
            Files.deleteIfExists(config.file());
        }
        String detail = (firstChange ? "added shunt-cni to the chain" : "replaced the shunt-cni entry")
                + (target.equals(config.file()) ? "" : " (converted " + config.file().getFileName() + " to a list)")
                + (firstChange ? "; the original is in " + backupDir.resolve(config.file().getFileName()) : "");
        return ConflistState.chained(target, detail);
    }

    /**
     * Takes Shunt out of every configuration in the directory (not only the primary: a pinned
     * file may have changed since install) and deletes the backups. Returns the files rewritten.
     */
    public List<Path> uninstall() throws IOException {
        List<Path> rewritten = new ArrayList<>();
        for (Path file : configFiles()) {
            NetworkConfigFile config;
            try {
                config = NetworkConfigFile.parse(file, Files.readAllBytes(file));
            } catch (InvalidConfigException | NoSuchFileException e) {
                continue;
            }
            if (config.mentionsShunt()) {
                AtomicFile.replace(file, config.withoutEntry(), Files.getPosixFilePermissions(file));
                rewritten.add(file);
                LOG.info("removed shunt-cni from the chain of {}", file);
            }
        }
        if (Files.isDirectory(backupDir)) {
            try (Stream<Path> backups = Files.list(backupDir)) {
                for (Path backup : backups.toList()) {
                    Files.delete(backup);
                }
            }
            Files.delete(backupDir);
        }
        return rewritten;
    }

    /** Files that still chain Shunt, for verifying an uninstall. */
    public List<Path> chaining() throws IOException {
        List<Path> found = new ArrayList<>();
        for (Path file : configFiles()) {
            try {
                if (NetworkConfigFile.parse(file, Files.readAllBytes(file)).mentionsShunt()) {
                    found.add(file);
                }
            } catch (InvalidConfigException | NoSuchFileException e) {
                // not loadable, so not chaining anything
            }
        }
        return found;
    }

    private Optional<Path> primary() throws IOException {
        if (pinned.isPresent()) {
            Path file = confDir.resolve(pinned.get());
            if (Files.isRegularFile(file)) {
                return Optional.of(file);
            }
            // A pinned .conf that Shunt converted lives on as a .conflist.
            Path converted = NetworkConfigFile.listFileFor(file);
            return Files.isRegularFile(converted) ? Optional.of(converted) : Optional.empty();
        }
        return configFiles().stream().findFirst();
    }

    private List<Path> configFiles() throws IOException {
        if (!Files.isDirectory(confDir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(confDir)) {
            return files.filter(f -> !f.getFileName().toString().startsWith("."))
                    .filter(f -> EXTENSIONS.stream().anyMatch(f.getFileName().toString()::endsWith))
                    .filter(Files::isRegularFile).sorted().toList();
        }
    }

    private static boolean unchanged(NetworkConfigFile config) throws IOException {
        try {
            return Arrays.equals(config.bytes(), Files.readAllBytes(config.file()));
        } catch (NoSuchFileException e) {
            return false;
        }
    }
}
