package io.shunt.cli;

import io.shunt.api.admin.AdminWire;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.nio.file.Path;
import java.time.Duration;

/** Options every subcommand takes: which agent, and how to print. */
final class GlobalOptions {
    @Option(names = {"-s", "--socket"}, paramLabel = "PATH", defaultValue = AdminWire.DEFAULT_SOCKET, scope = ScopeType.INHERIT,
            description = "The agent's admin socket. Default: ${DEFAULT-VALUE}.")
    Path socket;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "table", converter = OutputConverter.class,
            scope = ScopeType.INHERIT, description = "table, json or yaml. Default: ${DEFAULT-VALUE}.")
    Output output;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "30", scope = ScopeType.INHERIT,
            description = "How long to wait for the agent. Default: ${DEFAULT-VALUE}.")
    int timeoutSeconds;

    AdminClient client() {
        return new AdminClient(socket, Duration.ofSeconds(Math.max(1, timeoutSeconds)));
    }

    static final class OutputConverter implements picocli.CommandLine.ITypeConverter<Output> {
        @Override
        public Output convert(String value) {
            return Output.parse(value);
        }
    }
}
