package io.shunt.agent.cni.conflist;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * One file of a CNI configuration directory, read as the runtime reads it: a {@code .conflist}
 * holds a chain ({@code plugins}), a {@code .conf} or {@code .json} holds one plugin. Shunt can
 * only be chained into a list, so a single-plugin file becomes a {@code .conflist} of the same
 * name with that plugin first.
 *
 * @param file  where it was read from
 * @param bytes its content exactly as read, to back up and to notice concurrent rewrites
 * @param json  its parsed content
 */
record NetworkConfigFile(Path file, byte[] bytes, ObjectNode json) {
    /**
     * Numbers are kept exactly as BigDecimal: a double would turn 1e400 into Infinity, written back
     * as the string "Infinity", and round many-digit decimals, so rewriting the runtime's file would
     * change values of other plugins (a fuzzer finding, input kept).
     */
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .setNodeFactory(JsonNodeFactory.withExactBigDecimals(true));

    /** Parses a file's content; a content the runtime could not load either is refused. */
    static NetworkConfigFile parse(Path file, byte[] bytes) throws InvalidConfigException {
        try {
            // Jackson reads broken UTF-8 leniently, and what it writes back differs from what it read:
            // a configuration Shunt would rewrite must be exactly what the runtime reads.
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(bytes));
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new InvalidConfigException(file, "is not valid UTF-8");
        }
        JsonNode node;
        try {
            node = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new InvalidConfigException(file, "is not JSON: "
                    + (e instanceof JsonProcessingException json ? json.getOriginalMessage() : e.getMessage()));
        } catch (NumberFormatException e) {
            // exact numbers: an exponent beyond BigDecimal's range cannot be kept, so it is not rewritten
            throw new InvalidConfigException(file, "has a number Shunt cannot keep exactly: " + e.getMessage());
        }
        if (!(node instanceof ObjectNode json)) {
            throw new InvalidConfigException(file, "is not a JSON object");
        }
        if (isList(file) && !(json.get("plugins") instanceof ArrayNode)) {
            throw new InvalidConfigException(file, "is a .conflist without a \"plugins\" array");
        }
        if (!isList(file) && !json.path("type").isTextual()) {
            throw new InvalidConfigException(file, "is a single-plugin config without a \"type\"");
        }
        return new NetworkConfigFile(file, bytes, json);
    }

    static boolean isList(Path file) {
        return file.getFileName().toString().endsWith(".conflist");
    }

    /** Whether the chain ends with exactly this entry, so nothing needs writing. */
    boolean chains(ChainEntry entry) {
        if (!isList(file)) {
            return false;
        }
        ArrayNode plugins = (ArrayNode) json.get("plugins");
        long shunts = plugins.valueStream().filter(ChainEntry::isShunt).count();
        return shunts == 1 && !plugins.isEmpty() && plugins.get(plugins.size() - 1).equals(entry.toJson());
    }

    boolean mentionsShunt() {
        return isList(file) && json.get("plugins").valueStream().anyMatch(ChainEntry::isShunt);
    }

    /** Where the chained version lives: this file for a list, {@code <base>.conflist} otherwise. */
    Path chainedFile() {
        return listFileFor(file);
    }

    static Path listFileFor(Path file) {
        if (isList(file)) {
            return file;
        }
        String name = file.getFileName().toString();
        return file.resolveSibling(name.substring(0, name.lastIndexOf('.')) + ".conflist");
    }

    /**
     * The configuration with Shunt last in the chain: any other {@code shunt-cni} entry is dropped,
     * every other field and plugin is kept as it was. Last, because Shunt needs the interface the
     * primary plugin created and passes prevResult through unchanged.
     */
    byte[] withEntry(ChainEntry entry) {
        ObjectNode list;
        if (isList(file)) {
            list = json.deepCopy();
        } else {
            list = JSON.createObjectNode();
            list.set("cniVersion", json.get("cniVersion"));
            list.set("name", json.get("name"));
            list.putArray("plugins").add(json.deepCopy());
        }
        ArrayNode plugins = withoutShunt((ArrayNode) list.get("plugins"));
        plugins.add(entry.toJson());
        list.set("plugins", plugins);
        return write(list);
    }

    /** The list without any {@code shunt-cni} entry, everything else unchanged. */
    byte[] withoutEntry() {
        ObjectNode list = json.deepCopy();
        list.set("plugins", withoutShunt((ArrayNode) list.get("plugins")));
        return write(list);
    }

    private static ArrayNode withoutShunt(ArrayNode plugins) {
        ArrayNode kept = JSON.createArrayNode();
        plugins.valueStream().filter(p -> !ChainEntry.isShunt(p)).forEach(kept::add);
        return kept;
    }

    private static byte[] write(ObjectNode json) {
        try {
            return (JSON.writeValueAsString(json) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a parsed JSON tree could not be written back", e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NetworkConfigFile other && file.equals(other.file) && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return file.hashCode() * 31 + Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return file.toString();
    }
}
