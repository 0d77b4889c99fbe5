package io.shunt.cni;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shunt.api.cni.CniWire;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * This plugin's entry of the network configuration, as the runtime passes it on stdin. Everything
 * the plugin needs is here, never in extra environment variables: podman's asynchronous DEL runs
 * with a stripped environment.
 *
 * <pre>{@code
 * { "cniVersion": "1.0.0", "name": "podnet", "type": "shunt-cni",
 *   "agentSocket": "/run/shunt/cni.sock",   // optional, CniWire.DEFAULT_SOCKET
 *   "timeoutSeconds": 30,                    // optional: connect + reply, may be fractional
 *   "prevResult": { ... } }                  // from the runtime: ADD, CHECK, DEL
 * }</pre>
 *
 * @param cniVersion        the spec version of the configuration, one of {@link CniVersions#SUPPORTED}
 * @param name              the network name, or empty
 * @param agentSocket       the agent's CNI socket
 * @param timeout           how long the plugin waits for the agent, connect and reply together
 * @param prevResult        the previous plugin's result, if the runtime passed one; the plugin's
 *                          ADD result is this object
 * @param validContainerIds GC only: the container ids of {@code cni.dev/valid-attachments}, empty
 *                          if the runtime passed no such list (which is not the same as an empty one)
 */
public record PluginConfig(String cniVersion, String name, Path agentSocket, Duration timeout,
                           Optional<ObjectNode> prevResult, Optional<List<String>> validContainerIds) {
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    public static final String VALID_ATTACHMENTS = "cni.dev/valid-attachments";
    /** sun_path holds 108 bytes including the terminating NUL. */
    private static final int MAX_SOCKET_PATH_BYTES = 107;
    private static final double MAX_TIMEOUT_SECONDS = 3600;

    /**
     * Reads the configuration from its JSON.
     *
     * @throws CniError code 1 for a missing or unsupported cniVersion, 7 for an unusable field
     */
    public static PluginConfig from(ObjectNode json) throws CniError {
        String version = version(json);
        String name = json.path("name").asText("");
        return new PluginConfig(version, name, agentSocket(json), timeout(json), prevResult(json),
                validContainerIds(json));
    }

    /** The cniVersion for error objects: the configuration's own if it has one, else our preferred one. */
    public static String versionForErrors(JsonNode json) {
        JsonNode version = json == null ? null : json.get("cniVersion");
        return version != null && version.isTextual() && !version.asText().isBlank()
                ? version.asText() : CniVersions.PREFERRED;
    }

    private static String version(ObjectNode json) throws CniError {
        JsonNode node = json.get("cniVersion");
        if (node == null || node.isNull()) {
            throw new CniError(CniError.INCOMPATIBLE_VERSION, "the network configuration has no cniVersion",
                    "shunt-cni supports " + String.join(", ", CniVersions.SUPPORTED));
        }
        String version = node.asText();
        if (!node.isTextual() || !CniVersions.supported(version)) {
            throw new CniError(CniError.INCOMPATIBLE_VERSION, "shunt-cni does not support cniVersion " + node,
                    "shunt-cni supports " + String.join(", ", CniVersions.SUPPORTED));
        }
        return version;
    }

    private static Path agentSocket(ObjectNode json) throws CniError {
        JsonNode node = json.get("agentSocket");
        if (node == null || node.isNull()) {
            return Path.of(CniWire.DEFAULT_SOCKET);
        }
        if (!node.isTextual() || node.asText().isBlank()) {
            throw new CniError(CniError.INVALID_CONFIG, "agentSocket must be the absolute path of the shunt agent's"
                    + " CNI socket, not " + node);
        }
        String path = node.asText();
        if (!path.startsWith("/")) {
            throw new CniError(CniError.INVALID_CONFIG, "agentSocket \"" + path + "\" is not an absolute path",
                    "runtimes run plugins from an unspecified working directory");
        }
        int bytes = path.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_SOCKET_PATH_BYTES) {
            throw new CniError(CniError.INVALID_CONFIG, "agentSocket \"" + path + "\" is " + bytes
                    + " bytes long; a Unix socket path has at most " + MAX_SOCKET_PATH_BYTES);
        }
        try {
            return Path.of(path);
        } catch (java.nio.file.InvalidPathException e) {
            // e.g. a NUL character, which JSON can carry as \u0000
            throw new CniError(CniError.INVALID_CONFIG, "agentSocket is not a usable path: " + e.getMessage());
        }
    }

    private static Duration timeout(ObjectNode json) throws CniError {
        JsonNode node = json.get("timeoutSeconds");
        if (node == null || node.isNull()) {
            return DEFAULT_TIMEOUT;
        }
        double seconds = node.isNumber() ? node.asDouble() : Double.NaN;
        if (!(seconds > 0 && seconds <= MAX_TIMEOUT_SECONDS)) {
            throw new CniError(CniError.INVALID_CONFIG, "timeoutSeconds must be a number of seconds above 0 and at"
                    + " most " + (int) MAX_TIMEOUT_SECONDS + ", not " + node);
        }
        return Duration.ofNanos(Math.round(seconds * 1e9));
    }

    private static Optional<ObjectNode> prevResult(ObjectNode json) throws CniError {
        JsonNode node = json.get("prevResult");
        if (node == null || node.isNull()) {
            return Optional.empty();
        }
        if (!(node instanceof ObjectNode result)) {
            throw new CniError(CniError.INVALID_CONFIG, "prevResult is a JSON "
                    + node.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + ", not a result object");
        }
        return Optional.of(result);
    }

    private static Optional<List<String>> validContainerIds(ObjectNode json) throws CniError {
        JsonNode node = json.get(VALID_ATTACHMENTS);
        if (node == null || node.isNull()) {
            return Optional.empty();
        }
        if (!node.isArray()) {
            throw new CniError(CniError.INVALID_CONFIG, VALID_ATTACHMENTS + " must be a list of {containerID, ifname},"
                    + " not " + node);
        }
        List<String> ids = new ArrayList<>(node.size());
        for (JsonNode attachment : node) {
            JsonNode id = attachment.get("containerID");
            if (id == null || !id.isTextual() || id.asText().isBlank()) {
                throw new CniError(CniError.INVALID_CONFIG, VALID_ATTACHMENTS + " has an entry without a containerID: "
                        + attachment);
            }
            ids.add(id.asText());
        }
        return Optional.of(List.copyOf(ids));
    }

    /** The addresses in prevResult's {@code ips[].address}, e.g. {@code 10.22.0.5/16}; empty without one. */
    public List<String> prevResultIps() {
        List<String> ips = new ArrayList<>();
        prevResult.ifPresent(result -> {
            for (JsonNode ip : result.path("ips")) {
                JsonNode address = ip.get("address");
                if (address != null && address.isTextual()) {
                    ips.add(address.asText());
                }
            }
        });
        return List.copyOf(ips);
    }
}
