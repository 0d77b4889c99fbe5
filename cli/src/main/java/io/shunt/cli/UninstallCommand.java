package io.shunt.cli;

import io.shunt.api.admin.AdminWire;
import io.shunt.api.admin.Views;
import io.shunt.ffi.netns.NetNs;
import io.shunt.hijack.Hijackers;
import io.shunt.hijack.TechniqueId;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

@Command(name = "uninstall", description = {"Removes everything Shunt installed on this node: every pod's rules and "
        + "listeners, the shunt-cni entry of the CNI configuration (if the agent manages it), the pod state file; "
        + "then the agent exits.",
        "With --verify, shuntctl then checks by itself that the agent is gone and that no released pod's namespace "
                + "holds anything of Shunt's (exit " + ExitCode.NOT_CLEAN + " if something remains)."},
        footer = {"", "Example:", "  shuntctl uninstall --verify"})
final class UninstallCommand extends AgentCommand {
    private static final long AGENT_EXIT_WAIT_MILLIS = 15_000;

    @Option(names = "--verify", description = "Check afterwards that nothing of Shunt's remains.")
    boolean verify;

    @Override
    int run(PrintWriter out) throws CliException {
        var result = global.client().call("uninstall", Map.of());
        Views.Uninstall done;
        try {
            done = AdminWire.JSON.treeToValue(result, Views.Uninstall.class);
        } catch (IOException e) {
            throw new CliException(ExitCode.FAILED, "the agent's uninstall reply could not be read: " + e.getMessage());
        }
        List<String> remaining = new ArrayList<>(done.remaining());
        if (verify) {
            remaining.addAll(verify(done));
        }
        Views.Uninstall report = new Views.Uninstall(done.released(), remaining);
        global.output.print(out, AdminWire.JSON.valueToTree(report), Views.Uninstall.class, (u, o) -> {
            o.println("released " + u.released().size() + " pod(s)" + (u.released().isEmpty() ? "" : ": "
                    + String.join(", ", u.released().stream().map(Views.Released::pod).toList())));
            if (u.remaining().isEmpty()) {
                o.println(verify ? "verified: nothing of Shunt remains" : "nothing of Shunt remains, as the agent sees it");
            } else {
                u.remaining().forEach(r -> o.println("REMAINS: " + r));
            }
        });
        return remaining.isEmpty() ? ExitCode.OK : ExitCode.NOT_CLEAN;
    }

    private List<String> verify(Views.Uninstall done) {
        List<String> left = new ArrayList<>();
        if (!awaitGone(global.socket)) {
            left.add("the agent still answers on " + global.socket + " " + AGENT_EXIT_WAIT_MILLIS / 1000 + " s after uninstall");
        }
        for (Views.Released pod : done.released()) {
            Path netns = Path.of(pod.netns());
            if (!Files.exists(netns)) {
                continue; // the namespace is gone, and everything in it
            }
            try (NetNs ns = NetNs.open(netns)) {
                for (TechniqueId technique : TechniqueId.values()) {
                    Hijackers.of(technique).installed(ns).ifPresent(rules -> left.add("pod " + pod.pod() + " ("
                            + netns + ") still has " + technique.id() + " rules:\n" + rules));
                }
            } catch (IOException e) {
                left.add("pod " + pod.pod() + " (" + netns + "): could not check: " + e.getMessage());
            }
        }
        return left;
    }

    private static boolean awaitGone(Path socket) {
        long deadline = System.currentTimeMillis() + AGENT_EXIT_WAIT_MILLIS;
        while (Files.exists(socket)) {
            if (System.currentTimeMillis() > deadline) {
                return false;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }
}
