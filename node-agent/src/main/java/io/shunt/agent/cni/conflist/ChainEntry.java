package io.shunt.agent.cni.conflist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;

/**
 * Shunt's entry in a network configuration list: the {@code shunt-cni} plugin and the agent
 * socket it must call. Any other plugin entry of type {@code shunt-cni} is Shunt's too (an older
 * install, another socket) and is replaced, never duplicated.
 */
public record ChainEntry(Path agentSocket) {
    public static final String TYPE = "shunt-cni";
    private static final ObjectMapper JSON = new ObjectMapper();

    public ChainEntry {
        if (!agentSocket.isAbsolute()) {
            throw new IllegalArgumentException("the CNI socket for the conflist entry must be an absolute path, not "
                    + agentSocket);
        }
    }

    public ObjectNode toJson() {
        return JSON.createObjectNode().put("type", TYPE).put("agentSocket", agentSocket.toString());
    }

    static boolean isShunt(JsonNode plugin) {
        return TYPE.equals(plugin.path("type").asText());
    }
}
