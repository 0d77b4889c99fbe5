package io.shunt.api.admin;

import java.util.List;
import java.util.Map;

/**
 * The admin API's results: what {@code shuntctl -o json} prints, so field names are a contract.
 * Addresses are {@code host:port} text; durations are milliseconds.
 */
public final class Views {
    private Views() {
    }

    /** A kernel feature as the probe found it. */
    public record Feature(String id, boolean supported, String detail) {
    }

    /** One technique's standing in a selection or ranking: chosen, failed, skipped (with why). */
    public record Verdict(String technique, String outcome, String reason) {
    }

    public record Probe(String kernel, List<Feature> features, List<Verdict> ranking) {
    }

    /** The capture policy in force for every pod (live exclusions included). */
    public record Policy(int outboundPort, int inboundPort, String bypassMark, boolean captureInbound,
                         List<String> includeOutboundCidrs, List<String> excludeOutboundCidrs,
                         List<String> excludeOutboundPorts, List<String> excludeInboundPorts,
                         List<String> excludeOutboundOwners) {
    }

    public record Status(String version, boolean ready, long uptimeMillis, String kernel, String transport,
                         int eventLoops, List<String> ranking, List<Verdict> assessment, int pods,
                         Map<String, Integer> podsByTechnique, Policy policy) {
    }

    /**
     * @param selection  how the technique was chosen, e.g. {@code tproxy: chosen; redirect: not tried}
     * @param warnings   what the operator should know, e.g. legacy iptables tables found in the pod
     */
    public record Pod(String name, String netns, String technique, String containerId, String network,
                      String selection, long accepted, long active, long bytesFromClients,
                      long bytesFromUpstreams, List<String> warnings) {
    }

    /** What is installed in a pod's namespace now, as the kernel reports it. */
    public record Rules(String pod, String technique, String installed) {
    }

    /**
     * Whether a connection from {@code pod} to {@code destination} would be captured.
     *
     * @param rule     the policy entry or fixed rule that decides, e.g. {@code excludeOutboundCidrs 10.96.0.0/12}
     * @param listener where a captured connection goes, e.g. {@code 127.0.0.1:15001}; empty when bypassed
     * @param kernel   the technique's kernel rule that implements the decision
     */
    public record Explain(String pod, String technique, String destination, boolean captured, String reason,
                          String rule, String listener, String kernel) {
    }

    public record Connection(String pod, String technique, String direction, String client,
                             String originalDestination, long bytesFromClient, long bytesFromUpstream,
                             long ageMillis) {
    }

    public record PodStats(String pod, String technique, long accepted, long active, long upstreamFailures,
                           long destinationMisses, long bytesFromClients, long bytesFromUpstreams) {
    }

    public record Stats(List<PodStats> pods, PodStats total) {
    }

    /** What a live change did: which pods got new rules, which could not (and kept their old ones). */
    public record Change(String summary, List<String> applied, Map<String, String> failed) {
    }

    /** What uninstall removed, and what it found still there afterwards (empty when verified clean). */
    public record Uninstall(List<Released> released, List<String> remaining) {
    }

    /** A pod uninstall released, with the namespace to verify. */
    public record Released(String pod, String technique, String netns) {
    }
}
