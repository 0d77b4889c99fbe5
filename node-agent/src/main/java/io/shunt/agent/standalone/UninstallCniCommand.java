package io.shunt.agent.standalone;

import io.shunt.agent.cni.conflist.ChainEntry;
import io.shunt.agent.cni.conflist.ConflistInstaller;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * Takes shunt-cni out of the node's CNI configuration: the explicit end of an install, since a
 * stopping agent leaves its entry so that pods wait for it rather than start un-intercepted.
 */
@Command(name = "uninstall-cni", mixinStandardHelpOptions = true,
        description = {"Removes the shunt-cni entry from every CNI network configuration in --cni-conf-dir, deletes "
                + "the backups Shunt made, and verifies that no configuration chains shunt-cni any more.",
                "Run it after stopping the agent for good: pods created afterwards start without Shunt.", ""},
        footer = {"", "Example:", "  shunt-agent uninstall-cni --cni-conf-dir /etc/cni/net.d",
                "", "Exit codes: 0 removed (or nothing to remove), 1 a configuration still chains shunt-cni or could "
                + "not be rewritten, 2 bad arguments."})
final class UninstallCniCommand implements Callable<Integer> {
    @Option(names = "--cni-conf-dir", required = true, paramLabel = "DIR",
            description = "The CNI configuration directory the agent chained into, e.g. /etc/cni/net.d.")
    Path confDir;

    @Option(names = "--cni-backup-dir", paramLabel = "DIR", defaultValue = ConflistInstaller.DEFAULT_BACKUP_DIR,
            description = "The backups to delete. Default: ${DEFAULT-VALUE}.")
    Path backupDir;

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
            return 0;
        } catch (IOException e) {
            err.println("shunt-agent: could not remove shunt-cni from " + confDir + ": " + e.getMessage());
            return StandaloneMain.EXIT_FAILURE;
        }
    }
}
