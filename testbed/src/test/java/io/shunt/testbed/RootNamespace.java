package io.shunt.testbed;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** Read-only looks at the root namespace (where the test JVM runs), to prove the testbed left it alone. */
final class RootNamespace {
    private RootNamespace() {
    }

    /** Interface names from {@code ip -o link}, e.g. {@code lo}, {@code eth0}. */
    static Set<String> interfaces() throws IOException {
        Set<String> names = new TreeSet<>();
        for (String line : Command.run(List.of("ip", "-o", "link"), Command.DEFAULT_TIMEOUT, "").split("\n")) {
            String[] fields = line.split(":\\s+", 3);
            if (fields.length >= 2) {
                names.add(fields[1].split("@")[0]);
            }
        }
        return names;
    }

    static String ipForward() throws IOException {
        return Files.readString(Path.of("/proc/sys/net/ipv4/ip_forward")).strip();
    }

    static List<String> namespacesStartingWith(String prefix) throws IOException {
        return NetnsInventory.withPrefix(prefix);
    }
}
