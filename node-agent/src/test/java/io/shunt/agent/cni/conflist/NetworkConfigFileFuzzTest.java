package io.shunt.agent.cni.conflist;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A CNI configuration directory is written by the primary CNI plugin, an installer or an
 * administrator: {@link NetworkConfigFile#parse} returns a file or throws an
 * {@link InvalidConfigException} naming the file and the problem. From a parsed one,
 * {@code withEntry} writes JSON that parses again as a {@code .conflist} whose chain ends with
 * exactly one shunt-cni entry, ours, with every other plugin kept in order; {@code withoutEntry}
 * of that leaves no shunt-cni entry.
 *
 * <p>An input's first line is the file's extension ({@code conflist}, {@code conf} or
 * {@code json}), the rest its content. Seeds and findings:
 * {@code NetworkConfigFileFuzzTestInputs/parsesOrSaysWhyAndChainsShuntLast/}.
 */
class NetworkConfigFileFuzzTest {
    private static final ChainEntry ENTRY = new ChainEntry(Path.of("/run/shunt/cni.sock"));

    @FuzzTest(maxDuration = "5s")
    void parsesOrSaysWhyAndChainsShuntLast(byte[] input) throws InvalidConfigException {
        int newline = 0;
        while (newline < input.length && input[newline] != '\n') {
            newline++;
        }
        if (newline == input.length) {
            return;
        }
        String extension = new String(input, 0, newline, StandardCharsets.UTF_8);
        if (!List.of("conflist", "conf", "json").contains(extension)) {
            return;
        }
        Path file = Path.of("/etc/cni/net.d/10-net." + extension);
        byte[] content = Arrays.copyOfRange(input, newline + 1, input.length);

        NetworkConfigFile config;
        try {
            config = NetworkConfigFile.parse(file, content);
        } catch (InvalidConfigException e) {
            assertEquals(file, e.file());
            String problem = e.getMessage().substring(Math.min(e.getMessage().length(), file.toString().length()));
            assertTrue(e.getMessage().startsWith(file + " ") && !problem.isBlank(),
                    () -> "the message names the file and the problem: " + e.getMessage());
            return;
        }
        config.chains(ENTRY);
        config.mentionsShunt();

        NetworkConfigFile chained = NetworkConfigFile.parse(config.chainedFile(), config.withEntry(ENTRY));
        assertTrue(chained.chains(ENTRY),
                () -> "not chained: " + new String(config.withEntry(ENTRY), StandardCharsets.UTF_8));
        List<JsonNode> plugins = new ArrayList<>();
        chained.json().get("plugins").forEach(plugins::add);
        assertEquals(1, plugins.stream().filter(ChainEntry::isShunt).count(), plugins::toString);
        assertEquals(ENTRY.toJson(), plugins.getLast());
        assertEquals(others(config), others(chained), "every other plugin is kept, in order");
        assertTrue(Arrays.equals(chained.withEntry(ENTRY), chained.withEntry(ENTRY)), "chaining is deterministic");

        NetworkConfigFile unchained = NetworkConfigFile.parse(config.chainedFile(), chained.withoutEntry());
        assertFalse(unchained.mentionsShunt(), "withoutEntry left a shunt-cni entry");
        assertEquals(others(config), others(unchained));
    }

    /** The plugins of the chain that are not shunt-cni; a single-plugin file is a chain of one. */
    private static List<JsonNode> others(NetworkConfigFile config) {
        List<JsonNode> others = new ArrayList<>();
        if (NetworkConfigFile.isList(config.file())) {
            config.json().get("plugins").forEach(p -> {
                if (!ChainEntry.isShunt(p)) {
                    others.add(p);
                }
            });
        } else if (!ChainEntry.isShunt(config.json())) {
            others.add(config.json());
        }
        return others;
    }
}
