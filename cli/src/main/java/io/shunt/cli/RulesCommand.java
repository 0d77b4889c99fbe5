package io.shunt.cli;

import io.shunt.api.admin.Views;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.Map;

@Command(name = "rules", description = "What is installed in each pod's network namespace now, as the kernel reports it "
        + "(the nftables table of the technique in use).",
        footer = {"", "Examples:", "  shuntctl rules", "  shuntctl rules default/web-1"})
final class RulesCommand extends AgentCommand {
    @Parameters(arity = "0..1", paramLabel = "POD", description = "Only this pod.")
    String pod = "";

    @Override
    int run(PrintWriter out) throws CliException {
        var result = global.client().call("rules", Map.of("pod", pod));
        global.output.print(out, result, Views.Rules[].class, (rules, o) -> {
            for (Views.Rules r : rules) {
                o.println("# pod " + r.pod() + " (" + r.technique() + ")");
                o.println(r.installed().isEmpty() ? "(nothing installed: the rules were removed by something else)"
                        : r.installed().stripTrailing());
                o.println();
            }
        });
        return ExitCode.OK;
    }
}
