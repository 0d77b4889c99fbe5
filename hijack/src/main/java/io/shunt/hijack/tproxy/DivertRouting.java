package io.shunt.hijack.tproxy;

import io.shunt.ffi.rtnl.PolicyRoutes;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The policy routing that brings diverted packets back in over {@code lo}: a fwmark rule pointing
 * at a table whose only route is {@code local 0.0.0.0/0 dev lo}. The {@code tproxy} technique
 * needs it for packets its nft rules mark, the {@code tc} technique for packets its egress program
 * marks and redirects; each uses its own {@link TproxySettings} (mark, table, priority), so a pod
 * moving between the two never has one technique remove the other's routing.
 *
 * <p>All methods act in the calling thread's network namespace (wrap them in {@code NetNs.run}).
 */
public final class DivertRouting {
    private DivertRouting() {
    }

    /** One step an {@link #ensure} took, named as the equivalent {@code ip} command, and its undo. */
    public record Added(String what, Undo undo) {
    }

    @FunctionalInterface
    public interface Undo {
        void run() throws IOException;
    }

    /**
     * Adds the route, then the rule, each only where missing (route first: once the rule exists,
     * the table it points at is already complete). Appends each step to {@code added} as soon as
     * it is done, so a failed install (this one included) can take exactly that back out.
     */
    public static void ensure(TproxySettings s, List<Added> added) throws IOException {
        if (!PolicyRoutes.hasLocalDefaultRoute(s.table())) {
            PolicyRoutes.addLocalDefaultRoute(s.table());
            added.add(new Added("ip route " + TproxyRuleRenderer.routeText(s),
                    () -> PolicyRoutes.deleteLocalDefaultRoute(s.table())));
        }
        if (!PolicyRoutes.fwmarkRules().contains(s.rule())) {
            PolicyRoutes.addFwmarkRule(s.mark(), s.table(), s.rulePriority());
            added.add(new Added("ip rule " + s.rule(),
                    () -> PolicyRoutes.deleteFwmarkRule(s.mark(), s.table(), s.rulePriority())));
        }
    }

    /** Removes the rule, then the route, whichever is present. */
    public static void remove(TproxySettings s) throws IOException {
        if (PolicyRoutes.fwmarkRules().contains(s.rule())) {
            PolicyRoutes.deleteFwmarkRule(s.mark(), s.table(), s.rulePriority());
        }
        if (PolicyRoutes.hasLocalDefaultRoute(s.table())) {
            PolicyRoutes.deleteLocalDefaultRoute(s.table());
        }
    }

    /** The parts present now, as {@code ip rule ...} and {@code ip route ...} descriptions. */
    public static List<String> present(TproxySettings s) throws IOException {
        List<String> parts = new ArrayList<>();
        if (PolicyRoutes.fwmarkRules().contains(s.rule())) {
            parts.add("ip rule " + s.rule());
        }
        if (PolicyRoutes.hasLocalDefaultRoute(s.table())) {
            parts.add("ip route " + TproxyRuleRenderer.routeText(s));
        }
        return parts;
    }

    /** The parts present now as {@code shuntctl rules} shows them: {@code ip rule: ...}, {@code ip route table N: ...}. */
    public static String render(TproxySettings s) throws IOException {
        StringBuilder out = new StringBuilder();
        if (PolicyRoutes.fwmarkRules().contains(s.rule())) {
            out.append("ip rule: ").append(s.rule()).append('\n');
        }
        if (PolicyRoutes.hasLocalDefaultRoute(s.table())) {
            out.append("ip route table ").append(s.table()).append(": local 0.0.0.0/0 dev lo\n");
        }
        return out.toString();
    }
}
