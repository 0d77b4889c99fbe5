package io.shunt.cli;

import io.shunt.api.admin.Views;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.Map;

@Command(name = "status", description = "The agent: ready or not, kernel, transport, technique ranking, pods and policy.",
        footer = {"", "Example:", "  shuntctl status", "  shuntctl status -o json | jq .ready"})
final class StatusCommand extends AgentCommand {
    @Override
    int run(PrintWriter out) throws CliException {
        var result = global.client().call("status", Map.of());
        global.output.print(out, result, Views.Status.class, (s, o) -> {
            o.println("agent:      shunt-agent " + s.version() + (s.ready() ? ", ready" : ", starting (taking back its pods)")
                    + ", up " + Durations.human(s.uptimeMillis()));
            o.println("kernel:     " + s.kernel());
            o.println("transport:  " + s.transport() + " (" + s.eventLoops() + " event loops)");
            o.println("ranking:    " + String.join(" > ", s.ranking()));
            for (Views.Verdict v : s.assessment()) {
                o.println("            " + v.technique() + ": " + v.outcome() + (v.reason().isEmpty() ? "" : " (" + v.reason() + ")"));
            }
            o.println("pods:       " + s.pods() + (s.podsByTechnique().isEmpty() ? "" : " " + s.podsByTechnique()));
            PolicyText.print(s.policy(), o);
        });
        return ExitCode.OK;
    }
}
