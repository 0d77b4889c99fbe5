package io.shunt.cni;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The pod identity the runtime passes in CNI_ARGS ({@code K=V;K=V}). Kubernetes runtimes pass
 * {@code K8S_POD_NAMESPACE}, {@code K8S_POD_NAME}, {@code K8S_POD_UID} and
 * {@code K8S_POD_INFRA_CONTAINER_ID}; podman passes {@code K8S_POD_NAME} only.
 *
 * <p>The CNI convention: a plugin rejects a key it does not know unless the runtime also passed
 * {@code IgnoreUnknown=1} (or {@code true}), which every runtime that adds its own keys does.
 *
 * @param podNamespace K8S_POD_NAMESPACE, or empty
 * @param podName      K8S_POD_NAME, or empty
 * @param podUid       K8S_POD_UID, or empty
 */
public record CniArgs(String podNamespace, String podName, String podUid) {
    public static final CniArgs NONE = new CniArgs("", "", "");

    private static final String IGNORE_UNKNOWN = "IgnoreUnknown";
    /** Keys the plugin understands; K8S_POD_INFRA_CONTAINER_ID is the sandbox id, CNI_CONTAINERID already. */
    private static final Set<String> KNOWN = Set.of(IGNORE_UNKNOWN, "K8S_POD_NAMESPACE", "K8S_POD_NAME",
            "K8S_POD_UID", "K8S_POD_INFRA_CONTAINER_ID");

    /**
     * Parses CNI_ARGS. Empty pairs (a trailing {@code ;}) are skipped; a value may contain {@code =}.
     *
     * @throws CniError code 4 for a pair without {@code =}, an empty key, or an unknown key
     *                  without IgnoreUnknown
     */
    public static CniArgs parse(String raw) throws CniError {
        if (raw == null || raw.isBlank()) {
            return NONE;
        }
        Map<String, String> pairs = new LinkedHashMap<>();
        for (String pair : raw.split(";")) {
            if (pair.isBlank()) {
                continue;
            }
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new CniError(CniError.INVALID_ENVIRONMENT, "CNI_ARGS has a malformed pair \"" + pair
                        + "\": expected KEY=VALUE pairs separated by ';'", "CNI_ARGS=" + raw);
            }
            pairs.put(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
        }
        String ignore = pairs.getOrDefault(IGNORE_UNKNOWN, "");
        if (!ignore.equals("1") && !ignore.equalsIgnoreCase("true")) {
            for (String key : pairs.keySet()) {
                if (!KNOWN.contains(key)) {
                    throw new CniError(CniError.INVALID_ENVIRONMENT, "CNI_ARGS has the unknown key \"" + key
                            + "\" and no IgnoreUnknown=1", "CNI_ARGS=" + raw + "; shunt-cni knows " + KNOWN);
                }
            }
        }
        return new CniArgs(pairs.getOrDefault("K8S_POD_NAMESPACE", ""), pairs.getOrDefault("K8S_POD_NAME", ""),
                pairs.getOrDefault("K8S_POD_UID", ""));
    }

    /** {@code namespace/name}, the bare name, or empty: for messages. */
    public String describe() {
        if (podName.isEmpty()) {
            return "";
        }
        return podNamespace.isEmpty() ? podName : podNamespace + "/" + podName;
    }
}
