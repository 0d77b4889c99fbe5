package io.shunt.testbed;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** Lists and deletes named network namespaces through iproute2, and checks that deletions took. */
final class NetnsInventory {
    private NetnsInventory() {
    }

    /** Every namespace {@code ip netns list} knows, by name. */
    static List<String> list() throws IOException {
        String out = Command.run(List.of("ip", "netns", "list"), Command.DEFAULT_TIMEOUT, "is /var/run/netns readable?");
        List<String> names = new ArrayList<>();
        for (String line : out.split("\n")) {
            // Lines look like "name" or "name (id: 3)".
            String trimmed = line.strip();
            if (!trimmed.isEmpty()) {
                names.add(trimmed.split("\\s+", 2)[0]);
            }
        }
        return names;
    }

    static List<String> withPrefix(String prefix) throws IOException {
        return list().stream().filter(name -> name.startsWith(prefix)).toList();
    }

    /**
     * Deletes {@code known} and every other namespace whose name starts with {@code prefix}, then
     * verifies with a fresh listing that none of them is left.
     *
     * @throws IOException naming every namespace that survived, with the individual failures attached
     */
    static void deleteAllAndVerify(String prefix, Collection<String> known) throws IOException {
        Set<String> targets = new LinkedHashSet<>(known);
        targets.addAll(withPrefix(prefix));
        List<IOException> failures = new ArrayList<>();
        for (String name : targets) {
            try {
                delete(name);
            } catch (IOException e) {
                failures.add(e);
            }
        }
        List<String> left = list().stream().filter(name -> targets.contains(name) || name.startsWith(prefix)).toList();
        if (!left.isEmpty()) {
            IOException e = new IOException("network namespaces " + left + " are still present after deleting them; "
                    + "remove them by hand with `ip netns del <name>` (a process still running inside one, e.g. via "
                    + "`ip netns exec`, keeps only its contents alive, not the name)");
            failures.forEach(e::addSuppressed);
            throw e;
        }
        // A failed delete of a name that is gone anyway (already removed) is not an error.
    }

    private static void delete(String name) throws IOException {
        Command.run(List.of("ip", "netns", "del", name), Command.DEFAULT_TIMEOUT,
                "check `ip netns list`; delete it by hand if it is still there");
    }
}
