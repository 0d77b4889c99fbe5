package io.shunt.cli;

import io.shunt.api.admin.Views;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.Map;

@Command(name = "stats", description = "Counters per pod since the agent started, and their total.",
        footer = {"", "Example:", "  shuntctl stats"})
final class StatsCommand extends AgentCommand {
    @Override
    int run(PrintWriter out) throws CliException {
        var result = global.client().call("stats", Map.of());
        global.output.print(out, result, Views.Stats.class, (s, o) -> {
            Table t = new Table("POD", "TECHNIQUE", "ACCEPTED", "ACTIVE", "UPSTREAM FAILURES", "DESTINATION MISSES",
                    "BYTES OUT", "BYTES IN");
            for (Views.PodStats p : s.pods()) {
                row(t, p);
            }
            row(t, s.total());
            t.print(o);
        });
        return ExitCode.OK;
    }

    private static void row(Table t, Views.PodStats p) {
        t.row(p.pod(), p.technique(), p.accepted(), p.active(), p.upstreamFailures(), p.destinationMisses(),
                p.bytesFromClients(), p.bytesFromUpstreams());
    }
}
