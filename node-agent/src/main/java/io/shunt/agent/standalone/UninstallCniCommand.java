package io.shunt.agent.standalone;

import io.shunt.agent.cni.conflist.ChainEntry;
import io.shunt.agent.cni.conflist.ConflistInstaller;
import io.shunt.agent.registry.PodRecord;
import io.shunt.agent.registry.PodStore;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.HijackException;
import io.shunt.hijack.Hijackers;
import io.shunt.hijack.TechniqueId;
import io.shunt.hijack.nft.NatDrain;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * Takes shunt-cni out of the node's CNI configuration: the explicit end of an install, since a
 * stopping agent leaves its entry so that pods wait for it rather than start un-intercepted. With
 * {@code --state-file}, also removes the rules an agent left in the recorded pods (stopped with
 * {@code --on-stop keep}, or killed).
 */
@Command(name = "uninstall-cni", mixinStandardHelpOptions = true,
        description = {"Removes the shunt-cni entry from every CNI network configuration in --cni-conf-dir, deletes "
                + "the backups Shunt made, and verifies that no configuration chains shunt-cni any more.",
                "Run it after stopping the agent for good: pods created afterwards start without Shunt. With "
                        + "--state-file, also removes the rules the agent left in its pods.", ""},
        footer = {"", "Examples:", "  shunt-agent uninstall-cni --cni-conf-dir /etc/cni/net.d",
                "  shunt-agent uninstall-cni --cni-conf-dir /etc/cni/net.d --state-file /var/lib/shunt/pods.json",
                "", "Exit codes: 0 removed (or nothing to remove), 1 a configuration still chains shunt-cni or could "
                + "not be rewritten, or a pod's rules could not be removed, 2 bad arguments."})
final class UninstallCniCommand implements Callable<Integer> {
    @Option(names = "--cni-conf-dir", required = true, paramLabel = "DIR",
            description = "The CNI configuration directory the agent chained into, e.g. /etc/cni/net.d.")
    Path confDir;

    @Option(names = "--cni-backup-dir", paramLabel = "DIR", defaultValue = ConflistInstaller.DEFAULT_BACKUP_DIR,
            description = "The backups to delete. Default: ${DEFAULT-VALUE}.")
    Path backupDir;

    @Option(names = "--state-file", paramLabel = "PATH",
            description = "The stopped agent's --state-file: also remove every Shunt rule (of every technique) in "
                    + "the network namespace of each pod recorded there that still exists. An agent stopped with "
                    + "--on-stop keep, or killed, left them, and they refuse those pods' connections. Then delete "
                    + "the file and the live changes kept beside it; kept when some rules could not be removed.")
    Path stateFile;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        // The socket is irrelevant for removal: every shunt-cni entry goes, whatever it points at.
        ConflistInstaller installer = new ConflistInstaller(confDir, Optional.empty(), backupDir,
                new ChainEntry(Path.of("/")));
        try {
            List<Path> rewritten = installer.uninstall();
            List<Path> left = installer.chaining();
            if (!left.isEmpty()) {
                err.println("shunt-agent: these configurations still chain shunt-cni after removal: " + left
                        + "; is another shunt-agent running with --cni-conf-dir " + confDir + "? Stop it first.");
                return StandaloneMain.EXIT_FAILURE;
            }
            out.println(rewritten.isEmpty() ? "uninstall-cni: no configuration in " + confDir + " chains shunt-cni"
                    : "uninstall-cni: removed shunt-cni from " + rewritten);
        } catch (IOException e) {
            err.println("shunt-agent: could not remove shunt-cni from " + confDir + ": " + e.getMessage());
            return StandaloneMain.EXIT_FAILURE;
        }
        return stateFile == null ? 0 : removeLeftRules(out, err);
    }

    /**
     * The record does not say which technique a pod had (only a pinned one), so every technique
     * removes its own: each succeeds when it has nothing there.
     */
    private int removeLeftRules(PrintWriter out, PrintWriter err) {
        List<PodRecord> pods;
        try {
            pods = new PodStore(stateFile).load();
        } catch (IOException e) {
            err.println("shunt-agent: could not read the state file " + stateFile + ": " + e.getMessage());
            return StandaloneMain.EXIT_FAILURE;
        }
        List<String> failed = new ArrayList<>();
        for (PodRecord pod : pods) {
            Path path = Path.of(pod.netns());
            if (!Files.exists(path)) {
                out.println("uninstall-cni: pod " + pod.name() + ": its network namespace " + path
                        + " is gone, and its rules with it");
                continue;
            }
            try (NetNs netns = NetNs.open(path)) {
                for (TechniqueId technique : TechniqueId.values()) {
                    Hijackers.of(technique).remove(netns);
                }
                NatDrain.remove(netns);
                out.println("uninstall-cni: pod " + pod.name() + ": removed Shunt's rules from " + path);
            } catch (HijackException e) {
                failed.add(pod.name());
                err.println("shunt-agent: pod " + pod.name() + ": " + StandaloneMain.oneLine(e.getMessage()));
            } catch (IOException | RuntimeException e) {
                failed.add(pod.name());
                err.println("shunt-agent: pod " + pod.name() + ": could not remove Shunt's rules from " + path + ": "
                        + StandaloneMain.oneLine(String.valueOf(e.getMessage())));
            }
        }
        if (!failed.isEmpty()) {
            err.println("shunt-agent: the rules of pods " + failed + " are still there; " + stateFile
                    + " is kept, to run this again (docs/operations.md says how to remove them by hand)");
            return StandaloneMain.EXIT_FAILURE;
        }
        try {
            for (String journal : List.of(".exclusions.json", ".ranking.json")) {
                Files.deleteIfExists(stateFile.resolveSibling(stateFile.getFileName() + journal));
            }
            Files.deleteIfExists(stateFile);
        } catch (IOException e) {
            err.println("shunt-agent: could not delete " + stateFile + ": " + e.getMessage());
            return StandaloneMain.EXIT_FAILURE;
        }
        out.println("uninstall-cni: removed the rules of " + pods.size() + " recorded pod(s) and deleted " + stateFile);
        return 0;
    }
}
