package io.shunt.cli;

import io.shunt.api.admin.AdminWire;
import io.shunt.api.admin.Views;
import io.shunt.hijack.probe.Feature;
import io.shunt.hijack.probe.KernelFeatures;
import io.shunt.hijack.probe.KernelProbe;
import io.shunt.hijack.select.Selector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

@Command(name = "probe", description = {"What the kernel offers for interception, and which technique the ranking picks, "
        + "with the reason for each.", "By default the agent's own probe (taken at its start); --local probes this "
        + "machine now, without an agent (needs root: it makes real attempts in a scratch namespace)."},
        footer = {"", "Examples:", "  shuntctl probe", "  shuntctl probe --local -o json"})
final class ProbeCommand extends AgentCommand {
    @Option(names = "--local", description = "Probe here and now instead of asking the agent.")
    boolean local;

    @Override
    int run(PrintWriter out) throws CliException {
        var result = local ? AdminWire.JSON.valueToTree(localProbe()) : global.client().call("probe", Map.of());
        global.output.print(out, result, Views.Probe.class, (p, o) -> {
            o.println("kernel " + p.kernel());
            Table features = new Table("FEATURE", "SUPPORTED", "DETAIL");
            p.features().forEach(f -> features.row(f.id(), f.supported() ? "yes" : "no", f.detail()));
            features.print(o);
            o.println();
            Table ranking = new Table("TECHNIQUE", "VERDICT", "REASON");
            p.ranking().forEach(v -> ranking.row(v.technique(), v.outcome(), v.reason()));
            ranking.print(o);
        });
        return ExitCode.OK;
    }

    private static Views.Probe localProbe() {
        KernelFeatures features = KernelProbe.run();
        List<Views.Feature> list = Arrays.stream(Feature.values())
                .map(f -> new Views.Feature(f.id(), features.has(f), features.result(f).text())).toList();
        List<Views.Verdict> ranking = new Selector(Selector.DEFAULT_RANKING).assess(features).stream()
                .map(v -> new Views.Verdict(v.technique().id(), v.outcome().word(), v.reason())).toList();
        return new Views.Probe(features.kernelRelease(), list, ranking);
    }
}
