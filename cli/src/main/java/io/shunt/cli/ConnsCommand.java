package io.shunt.cli;

import io.shunt.api.admin.Views;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.Map;

@Command(name = "conns", description = "Live connections through the proxy: client, original destination, bytes, age.",
        footer = {"", "Examples:", "  shuntctl conns", "  shuntctl conns default/web-1 -o json"})
final class ConnsCommand extends AgentCommand {
    @Parameters(arity = "0..1", paramLabel = "POD", description = "Only this pod.")
    String pod = "";

    @Override
    int run(PrintWriter out) throws CliException {
        var result = global.client().call("conns", Map.of("pod", pod));
        global.output.print(out, result, Views.Connection[].class, (conns, o) -> {
            Table t = new Table("POD", "DIRECTION", "CLIENT", "ORIGINAL DESTINATION", "BYTES OUT", "BYTES IN", "AGE", "TECHNIQUE");
            for (Views.Connection c : conns) {
                t.row(c.pod(), c.direction(), c.client(), c.originalDestination(), c.bytesFromClient(),
                        c.bytesFromUpstream(), Durations.human(c.ageMillis()), c.technique());
            }
            t.print(o);
        });
        return ExitCode.OK;
    }
}
