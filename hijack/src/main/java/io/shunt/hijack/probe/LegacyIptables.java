package io.shunt.hijack.probe;

import io.shunt.ffi.netns.NetNs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * The legacy iptables (x_tables) tables a network namespace has, so the agent can see foreign
 * iptables-legacy rules instead of guessing: nft cannot list them, and they still filter and NAT
 * the pod's packets. The kernel registers a table in a namespace the first time something uses
 * it there, so a namespace nobody ran iptables-legacy in lists none.
 */
public final class LegacyIptables {
    private LegacyIptables() {
    }

    /** Names of the IPv4 legacy tables registered in {@code netns}, e.g. {@code [filter, nat]}. */
    public static List<String> tablesIn(NetNs netns) throws IOException {
        return read(netns, "ip_tables_names");
    }

    /** Names of the IPv6 legacy tables (ip6tables-legacy) registered in {@code netns}. */
    public static List<String> ip6TablesIn(NetNs netns) throws IOException {
        return read(netns, "ip6_tables_names");
    }

    /**
     * Reads {@code /proc/thread-self/net/<file>} from inside the namespace. Missing means the
     * kernel has no legacy iptables for that family, so no legacy table can exist.
     */
    private static List<String> read(NetNs netns, String file) throws IOException {
        return netns.run(() -> {
            try {
                return Files.readAllLines(Path.of("/proc/thread-self/net", file)).stream()
                        .map(String::strip).filter(s -> !s.isEmpty()).sorted().toList();
            } catch (NoSuchFileException e) {
                return List.of();
            }
        });
    }
}
