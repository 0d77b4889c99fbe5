package io.shunt.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import io.shunt.api.admin.AdminWire;

import java.io.PrintWriter;
import java.util.function.Consumer;

/** How a command's result is printed: a table for people, JSON or YAML (the admin API's own shape) for scripts. */
enum Output {
    TABLE, JSON, YAML;

    private static final ObjectMapper JSON_OUT = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final ObjectMapper YAML_OUT = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER).enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    /** Prints {@code result}; for a table, {@code table} renders the typed view. */
    <T> void print(PrintWriter out, JsonNode result, Class<T> view, TableRenderer<T> table) {
        try {
            switch (this) {
                case JSON -> out.println(JSON_OUT.writeValueAsString(result));
                case YAML -> out.print(YAML_OUT.writeValueAsString(result));
                case TABLE -> table.render(AdminWire.JSON.treeToValue(result, view), out);
            }
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the agent's " + view.getSimpleName() + " could not be read: "
                    + e.getOriginalMessage(), e);
        }
        out.flush();
    }

    void printRaw(PrintWriter out, Object value, Consumer<PrintWriter> table) {
        print(out, AdminWire.JSON.valueToTree(value), JsonNode.class, (ignored, o) -> table.accept(o));
    }

    interface TableRenderer<T> {
        void render(T view, PrintWriter out);
    }

    /** picocli converter: {@code -o table|json|yaml}. */
    static Output parse(String text) {
        return switch (text) {
            case "table" -> TABLE;
            case "json" -> JSON;
            case "yaml" -> YAML;
            default -> throw new IllegalArgumentException("output format '" + text + "' is not one of table, json, yaml");
        };
    }
}
