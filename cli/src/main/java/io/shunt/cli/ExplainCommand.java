package io.shunt.cli;

import io.shunt.api.admin.Views;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.Map;

@Command(name = "explain", description = {"Would a connection from POD to DEST:PORT be captured, and why: the policy "
        + "entry that decides, the listener it goes to, and the kernel rule that does it.",
        "Exit code 0 either way; the answer is in the output (-o json: .captured)."},
        footer = {"", "Examples:", "  shuntctl explain default/web-1 10.0.3.7:5432",
                "  shuntctl explain web 10.96.0.1:443 -o json"})
final class ExplainCommand extends AgentCommand {
    @Parameters(index = "0", paramLabel = "POD", description = "A pod as `shuntctl pods` names it.")
    String pod;

    @Parameters(index = "1", paramLabel = "DEST:PORT", description = "A literal address and port, e.g. 10.0.3.7:5432.")
    String destination;

    @Override
    int run(PrintWriter out) throws CliException {
        var result = global.client().call("explain", Map.of("pod", pod, "destination", destination));
        global.output.print(out, result, Views.Explain.class, (e, o) -> {
            o.println(e.destination() + " from pod " + e.pod() + ": " + (e.captured() ? "CAPTURED" : "BYPASSED"));
            o.println("  why:      " + e.reason());
            o.println("  rule:     " + e.rule());
            if (e.captured()) {
                o.println("  listener: " + e.listener() + " (" + e.technique() + ")");
            }
            o.println("  kernel:   " + e.kernel());
        });
        return ExitCode.OK;
    }
}
