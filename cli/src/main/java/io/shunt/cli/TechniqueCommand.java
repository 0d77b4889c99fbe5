package io.shunt.cli;

import io.shunt.api.admin.Views;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;

@Command(name = "technique", description = "Change the interception technique of a live pod, or the ranking for new pods.",
        subcommands = TechniqueCommand.Set.class,
        footer = {"", "Examples:", "  shuntctl technique set default/web-1 tproxy", "  shuntctl technique set --default redirect",
                "  shuntctl technique set --default tproxy,redirect"})
final class TechniqueCommand {
    @Command(name = "set", description = {"Moves POD to TECHNIQUE live: its rules are replaced in one transaction and its "
            + "established connections keep flowing (redirect to tproxy; tproxy to redirect only once the pod has no "
            + "open connection). With --default, sets the ranking (NAME[,NAME...]) for pods added from now on."})
    static final class Set extends AgentCommand {
        @Option(names = "--default", description = "Change the ranking for pods added from now on instead of one pod. "
                + "An agent with --state-file keeps it across restarts and take-overs, in place of its --technique.")
        boolean defaultRanking;

        @Parameters(arity = "1..2", paramLabel = "[POD] TECHNIQUE",
                description = "The pod (as `shuntctl pods` names it) and a technique (redirect, tproxy, tc, sockmap); with --default only the ranking.")
        List<String> words;

        @Override
        int run(PrintWriter out) throws CliException {
            if (defaultRanking != (words.size() == 1)) {
                throw new CliException(ExitCode.USAGE, defaultRanking ? "technique set --default takes only the ranking, "
                        + "e.g. tproxy,redirect" : "technique set needs POD and TECHNIQUE, e.g. default/web-1 tproxy");
            }
            Map<String, String> args = defaultRanking ? Map.of("technique", words.getFirst())
                    : Map.of("pod", words.get(0), "technique", words.get(1));
            var result = global.client().call("technique-set", args);
            global.output.print(out, result, Views.Change.class, (c, o) -> o.println(c.summary()));
            return ExitCode.OK;
        }
    }
}
