package io.shunt.cli;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code shuntctl}: inspect and adjust what the node's Shunt agent intercepts. */
@Command(name = "shuntctl", mixinStandardHelpOptions = true, version = "shuntctl 0.1.0",
        description = {"Inspects and adjusts the Shunt agent on this node through its admin socket (root only).", ""},
        subcommands = {ProbeCommand.class, StatusCommand.class, PodsCommand.class, RulesCommand.class,
                ExplainCommand.class, ExcludeCommand.class, TechniqueCommand.class, ConnsCommand.class, StatsCommand.class,
                UninstallCommand.class, AutoComplete.GenerateCompletion.class},
        footer = {"", "Examples:",
                "  shuntctl status",
                "  shuntctl explain default/web-1 10.0.3.7:5432",
                "  shuntctl exclude add --cidr 10.96.0.1/32",
                "  shuntctl technique set default/web-1 tproxy",
                "  shuntctl pods -o json",
                "  source <(shuntctl generate-completion)      # bash/zsh completion",
                "",
                "Exit codes:",
                "  0 ok                          4 no agent answers on the socket",
                "  1 the agent failed; nothing changed   5 the agent is still starting (or handing over)",
                "  2 bad usage or argument        6 uninstall --verify found leftovers",
                "  3 no such pod or entry"})
public final class Shuntctl implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line with shuntctl's error handling, for main and for tests that run it in-process. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Shuntctl());
        cl.getSubcommands().get("generate-completion").getCommandSpec().usageMessage().hidden(false);
        return cl.setParameterExceptionHandler((ex, args) -> {
            ex.getCommandLine().getErr().println("shuntctl: " + ex.getMessage());
            ex.getCommandLine().getErr().println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help'.");
            return ExitCode.USAGE;
        }).setExecutionExceptionHandler((ex, cl2, result) -> {
            cl2.getErr().println("shuntctl: " + ex.getMessage());
            return ExitCode.FAILED;
        });
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
