package io.shunt.cli;

import picocli.CommandLine;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** A subcommand that talks to the agent: failures become one line on stderr and a documented exit code. */
abstract class AgentCommand implements Callable<Integer> {
    @CommandLine.Mixin
    GlobalOptions global = new GlobalOptions();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public final Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try {
            return run(out);
        } catch (CliException e) {
            spec.commandLine().getErr().println("shuntctl: " + e.getMessage());
            spec.commandLine().getErr().flush();
            return e.exitCode();
        } finally {
            out.flush();
        }
    }

    abstract int run(PrintWriter out) throws CliException;
}
