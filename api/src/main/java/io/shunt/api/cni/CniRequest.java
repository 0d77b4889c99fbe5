package io.shunt.api.cni;

import java.util.List;
import java.util.Objects;

/**
 * What the CNI plugin tells the agent about one CNI call. The plugin stays thin: it forwards
 * what the runtime gave it, and the agent decides.
 *
 * @param command      ADD, DEL, CHECK (one container), STATUS or GC (the agent, CNI 1.1)
 * @param containerId  CNI_CONTAINERID: the sandbox's id, the key the runtime uses for DEL
 * @param netns        CNI_NETNS: path of the sandbox's network namespace; may be empty on DEL
 * @param ifName       CNI_IFNAME
 * @param podNamespace K8S_POD_NAMESPACE from CNI_ARGS, or empty outside Kubernetes
 * @param podName      K8S_POD_NAME from CNI_ARGS, or empty
 * @param podUid       K8S_POD_UID from CNI_ARGS, or empty
 * @param ips          the pod's addresses from prevResult, e.g. "10.22.0.5/16"
 * @param validContainerIds GC only: the container ids of the attachments the runtime still has
 *                     (cni.dev/valid-attachments); every other pod of this network may be released
 * @param network      the CNI network's name (the config's "name"): GC of one network must never
 *                     release pods attached through another network that also chains shunt-cni
 */
public record CniRequest(Command command, String containerId, String netns, String ifName, String podNamespace,
                         String podName, String podUid, List<String> ips, List<String> validContainerIds,
                         String network) {
    /** ADD, DEL and CHECK concern one container; STATUS and GC (CNI 1.1) concern the agent. */
    public enum Command { ADD, DEL, CHECK, STATUS, GC }

    public CniRequest {
        Objects.requireNonNull(command, "command");
        containerId = containerId == null ? "" : containerId;
        netns = netns == null ? "" : netns;
        ifName = ifName == null ? "" : ifName;
        podNamespace = podNamespace == null ? "" : podNamespace;
        podName = podName == null ? "" : podName;
        podUid = podUid == null ? "" : podUid;
        ips = ips == null ? List.of() : List.copyOf(ips);
        validContainerIds = validContainerIds == null ? List.of() : List.copyOf(validContainerIds);
        network = network == null ? "" : network;
    }

    /** A request without a network name, as clients before the network field sent it. */
    public CniRequest(Command command, String containerId, String netns, String ifName, String podNamespace,
                      String podName, String podUid, List<String> ips, List<String> validContainerIds) {
        this(command, containerId, netns, ifName, podNamespace, podName, podUid, ips, validContainerIds, "");
    }

    public CniRequest withNetwork(String name) {
        return new CniRequest(command, containerId, netns, ifName, podNamespace, podName, podUid, ips,
                validContainerIds, name);
    }

    /** A request about one container (ADD, DEL, CHECK). */
    public static CniRequest forContainer(Command command, String containerId, String netns, String ifName,
                                          String podNamespace, String podName, String podUid, List<String> ips) {
        return new CniRequest(command, containerId, netns, ifName, podNamespace, podName, podUid, ips, List.of());
    }
}
