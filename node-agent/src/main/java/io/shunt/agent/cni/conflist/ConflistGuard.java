package io.shunt.agent.cni.conflist;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Keeps Shunt in the primary CNI configuration for as long as the agent runs: a primary CNI that
 * rewrites its conflist (on upgrade, on every restart of its own agent) drops the chained entry,
 * and pods created after that would run un-intercepted. The guard looks again on every change in
 * the directory, and every {@code recheck} in case a change notification was missed (a directory
 * replaced under a mount, a watch queue overflow).
 *
 * <p>On close the entry stays: while the agent is away, ADDs fail with "try again later" and the
 * runtime retries, so pods wait instead of starting un-intercepted. Removing Shunt from a node is
 * an explicit uninstall ({@link ConflistInstaller#uninstall()}).
 */
public final class ConflistGuard implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ConflistGuard.class);
    /** Lets a primary CNI that writes in several steps finish before the file is read. */
    private static final Duration SETTLE = Duration.ofMillis(50);

    private final ConflistInstaller installer;
    private final Duration recheck;
    private final WatchService watcher;
    private final Thread thread;
    private volatile ConflistState last;

    private ConflistGuard(ConflistInstaller installer, Duration recheck, WatchService watcher) {
        this.installer = installer;
        this.recheck = recheck;
        this.watcher = watcher;
        this.thread = Thread.ofPlatform().name("shunt-conflist-guard").daemon().unstarted(this::run);
    }

    /**
     * Chains Shunt once, then keeps it chained in the background.
     *
     * @throws IOException when the directory cannot be created or watched, or the first look fails
     */
    public static ConflistGuard start(ConflistInstaller installer, Duration recheck) throws IOException {
        Files.createDirectories(installer.confDir());
        WatchService watcher = FileSystems.getDefault().newWatchService();
        try {
            installer.confDir().register(watcher, StandardWatchEventKinds.ENTRY_CREATE,
                    StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
            ConflistGuard guard = new ConflistGuard(installer, recheck, watcher);
            guard.look();
            guard.thread.start();
            return guard;
        } catch (IOException | RuntimeException e) {
            watcher.close();
            throw e;
        }
    }

    /** What the last look found. */
    public ConflistState state() {
        return last;
    }

    private void run() {
        try {
            while (true) {
                WatchKey key = watcher.poll(recheck.toMillis(), TimeUnit.MILLISECONDS);
                if (key != null) {
                    Thread.sleep(SETTLE);
                    key.pollEvents();
                    key.reset();
                    // Events that arrived while settling are covered by the look below.
                    for (WatchKey more; (more = watcher.poll()) != null; ) {
                        more.pollEvents();
                        more.reset();
                    }
                }
                try {
                    look();
                } catch (IOException | RuntimeException e) {
                    LOG.error("could not check the CNI configuration in {}: {}; trying again in {} s",
                            installer.confDir(), e.getMessage(), recheck.toSeconds());
                }
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // closed
        }
    }

    private synchronized void look() throws IOException {
        ConflistState now = installer.ensure();
        ConflistState before = last;
        last = now;
        switch (now.kind()) {
            case CHAINED -> LOG.info("CNI chain: {}: {}", now.file().orElseThrow(), now.detail());
            case PRESENT -> {
                if (before == null || before.kind() != ConflistState.Kind.PRESENT) {
                    LOG.info("CNI chain: {} chains shunt-cni", now.file().orElseThrow());
                }
            }
            case NO_PRIMARY, INVALID -> {
                // Said once per change of situation, not on every recheck.
                if (before == null || before.kind() != now.kind() || !Objects.equals(before.detail(), now.detail())) {
                    LOG.warn("CNI chain: cannot chain shunt-cni yet: {}; waiting for the primary CNI to write a "
                            + "valid configuration", now.detail());
                }
            }
        }
    }

    @Override
    public void close() {
        thread.interrupt();
        try {
            watcher.close();
            thread.join(Duration.ofSeconds(5));
        } catch (IOException e) {
            LOG.warn("closing the watch on {}: {}", installer.confDir(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
