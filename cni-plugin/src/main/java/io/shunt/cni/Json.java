package io.shunt.cni;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The plugin's JSON: Jackson's tree model only, so the configuration and prevResult pass through
 * as the runtime wrote them (field order kept, decimals kept as written) and no data-binding
 * classes load at startup.
 */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .configure(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES, false);

    private Json() {
    }

    /** The configuration on stdin, which must be one JSON object. */
    static ObjectNode parseObject(byte[] stdin) throws CniError {
        if (stdin.length == 0 || new String(stdin, java.nio.charset.StandardCharsets.UTF_8).isBlank()) {
            throw new CniError(CniError.DECODING_FAILURE, "the network configuration on stdin is empty",
                    "a runtime passes the plugin's network configuration as JSON on stdin");
        }
        JsonNode tree;
        try {
            tree = MAPPER.readTree(stdin);
        } catch (JsonProcessingException e) {
            throw new CniError(CniError.DECODING_FAILURE, "the network configuration on stdin is not valid JSON: "
                    + withoutSource(e.getOriginalMessage()), location(e));
        } catch (java.io.IOException e) {
            throw new CniError(CniError.DECODING_FAILURE, "could not read the network configuration on stdin: "
                    + e.getMessage());
        } catch (NumberFormatException e) {
            // valid JSON, but a number BigDecimal cannot hold (e.g. 1e3264510789); Jackson throws it unwrapped
            throw new CniError(CniError.DECODING_FAILURE, "the network configuration on stdin has a number shunt-cni"
                    + " cannot read: " + e.getMessage());
        }
        if (!(tree instanceof ObjectNode object)) {
            throw new CniError(CniError.DECODING_FAILURE, "the network configuration on stdin is a JSON "
                    + tree.getNodeType().name().toLowerCase(java.util.Locale.ROOT) + ", not an object");
        }
        return object;
    }

    static String write(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree failed to serialise", e);
        }
    }

    /** Jackson names the (redacted) input in nested locations; keep the line and column only. */
    private static String withoutSource(String message) {
        return message.replaceAll("\\[Source: [^\\]]*?; (line: \\d+, column: \\d+)\\]", "[$1]");
    }

    private static String location(JsonProcessingException e) {
        var at = e.getLocation();
        return at == null ? "" : "at line " + at.getLineNr() + ", column " + at.getColumnNr();
    }
}
