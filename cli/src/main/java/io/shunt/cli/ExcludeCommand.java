package io.shunt.cli;

import io.shunt.api.admin.Views;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.Map;

@Command(name = "exclude", description = "Exclusions that bypass the proxy, changed live on every pod (each pod's rules "
        + "are replaced in one transaction; established connections keep flowing).",
        subcommands = {ExcludeCommand.Add.class, ExcludeCommand.Remove.class, ExcludeCommand.ListExclusions.class},
        footer = {"", "Examples:", "  shuntctl exclude add --cidr 10.96.0.1/32", "  shuntctl exclude add --port 5432",
                "  shuntctl exclude add --inbound-port 9090-9091", "  shuntctl exclude add --uid 1337", "  shuntctl exclude remove --port 5432",
                "  shuntctl exclude list"})
final class ExcludeCommand {
    /** Exactly one of the kinds the agent knows. */
    static final class Entry {
        @Option(names = "--cidr", paramLabel = "CIDR", description = "Outbound destinations, e.g. 10.96.0.0/12.")
        String cidr;

        @Option(names = "--port", paramLabel = "PORT[-PORT]", description = "Outbound destination ports, e.g. 5432 or 9000-9100.")
        String port;

        @Option(names = "--inbound-port", paramLabel = "PORT[-PORT]", description = "Pod ports whose inbound connections bypass.")
        String inboundPort;

        @Option(names = "--uid", paramLabel = "UID", description = "Outbound connections from sockets of this user.")
        String uid;

        @Option(names = "--gid", paramLabel = "GID", description = "Outbound connections from sockets of this group.")
        String gid;

        Map<String, String> args() {
            return cidr != null ? Map.of("kind", "cidr", "value", cidr)
                    : port != null ? Map.of("kind", "port", "value", port)
                    : inboundPort != null ? Map.of("kind", "inbound-port", "value", inboundPort)
                    : uid != null ? Map.of("kind", "uid", "value", uid)
                    : Map.of("kind", "gid", "value", gid);
        }
    }

    abstract static class Change extends AgentCommand {
        @ArgGroup(exclusive = true, multiplicity = "1")
        Entry entry;

        abstract String command();

        @Override
        int run(PrintWriter out) throws CliException {
            var result = global.client().call(command(), entry.args());
            global.output.print(out, result, Views.Change.class, (c, o) -> {
                o.println(c.summary());
                if (!c.applied().isEmpty()) {
                    o.println("pods: " + String.join(", ", c.applied()));
                }
            });
            return ExitCode.OK;
        }
    }

    @Command(name = "add", description = "Add an exclusion to every pod, live. Adding one that exists changes nothing.")
    static final class Add extends Change {
        @Override
        String command() {
            return "exclude-add";
        }
    }

    @Command(name = "remove", description = "Remove an exclusion from every pod, live. Exit 3 if it is not there.")
    static final class Remove extends Change {
        @Override
        String command() {
            return "exclude-remove";
        }
    }

    @Command(name = "list", description = "The exclusions in force (and the rest of the capture policy).")
    static final class ListExclusions extends AgentCommand {
        @Override
        int run(PrintWriter out) throws CliException {
            var result = global.client().call("exclude-list", Map.of());
            global.output.print(out, result, Views.Policy.class, (p, o) -> {
                Table t = new Table("KIND", "VALUE");
                p.excludeOutboundCidrs().forEach(v -> t.row("cidr", v));
                p.excludeOutboundPorts().forEach(v -> t.row("port", v));
                p.excludeInboundPorts().forEach(v -> t.row("inbound-port", v));
                p.excludeOutboundOwners().forEach(v -> t.row(v.substring(0, 3), v.substring(4)));
                t.print(o);
            });
            return ExitCode.OK;
        }
    }
}
