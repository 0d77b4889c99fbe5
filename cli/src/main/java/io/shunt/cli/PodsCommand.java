package io.shunt.cli;

import io.shunt.api.admin.Views;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.Map;

@Command(name = "pods", description = "The pods this node intercepts: technique, why it was chosen, and traffic so far.",
        footer = {"", "Example:", "  shuntctl pods", "  shuntctl pods -o json | jq -r '.[] | select(.technique==\"redirect\") | .name'"})
final class PodsCommand extends AgentCommand {
    @Override
    int run(PrintWriter out) throws CliException {
        var result = global.client().call("pods", Map.of());
        global.output.print(out, result, Views.Pod[].class, (pods, o) -> {
            Table t = new Table("POD", "TECHNIQUE", "ACCEPTED", "ACTIVE", "BYTES OUT", "BYTES IN", "NETNS", "SELECTION");
            for (Views.Pod p : pods) {
                t.row(p.name(), p.technique(), p.accepted(), p.active(), p.bytesFromClients(), p.bytesFromUpstreams(),
                        p.netns(), p.selection());
            }
            t.print(o);
            for (Views.Pod p : pods) {
                p.warnings().forEach(w -> o.println("warning: pod " + p.name() + ": " + w));
            }
        });
        return ExitCode.OK;
    }
}
