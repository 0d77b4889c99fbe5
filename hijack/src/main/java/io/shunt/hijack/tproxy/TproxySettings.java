package io.shunt.hijack.tproxy;

import io.shunt.ffi.rtnl.FwmarkRule;
import io.shunt.hijack.policy.CapturePolicy;

/**
 * The policy-routing numbers of the {@code tproxy} technique inside a pod's netns: packets the
 * output chain marks with {@code mark} are routed by {@code table}, whose only route delivers
 * everything locally (over {@code lo}), where the prerouting chain hands them to a listener.
 *
 * @param mark         the fwmark of diverted packets (default 0x5349, "SI"); never 0 and never the
 *                     policy's bypass mark
 * @param table        the routing table holding {@code local 0.0.0.0/0 dev lo} (default 21321)
 * @param rulePriority the position of the fwmark rule (default 100); it must run before the
 *                     {@code main} table's rule at 32766, or marked packets would leave the pod
 */
public record TproxySettings(int mark, int table, int rulePriority) {
    public static final int DEFAULT_MARK = 0x5349;
    public static final int DEFAULT_TABLE = 21321;
    public static final int DEFAULT_RULE_PRIORITY = 100;
    /** The priority of the kernel's {@code from all lookup main} rule. */
    private static final int MAIN_RULE_PRIORITY = 32766;

    public TproxySettings {
        if (mark == 0) {
            throw new IllegalArgumentException("tproxy mark must not be 0: every unmarked packet has mark 0, so all "
                    + "traffic would be routed to the proxy; pick a non-zero mark (default 0x5349)");
        }
        if (table <= 0 || (table >= 252 && table <= 255)) {
            throw new IllegalArgumentException("tproxy table " + table + " is " + (table <= 0 ? "out of range 1.."
                    + Integer.MAX_VALUE : "reserved by the kernel (252 compat, 253 default, 254 main, 255 local)")
                    + "; pick a table of Shunt's own (default " + DEFAULT_TABLE + ")");
        }
        if (rulePriority < 1 || rulePriority >= MAIN_RULE_PRIORITY) {
            throw new IllegalArgumentException("tproxy rule priority " + rulePriority + " is out of range 1.."
                    + (MAIN_RULE_PRIORITY - 1) + ": the rule must run before the main table's rule at "
                    + MAIN_RULE_PRIORITY + " (default " + DEFAULT_RULE_PRIORITY + ")");
        }
    }

    public static TproxySettings defaults() {
        return new TproxySettings(DEFAULT_MARK, DEFAULT_TABLE, DEFAULT_RULE_PRIORITY);
    }

    /** The fwmark rule these settings install. */
    public FwmarkRule rule() {
        return FwmarkRule.of(mark, table, rulePriority);
    }

    /**
     * Refuses a policy whose bypass mark is this mark: the proxy's own upstream sockets would then
     * look diverted, and diverted packets would look like the proxy's.
     */
    void checkAgainst(CapturePolicy policy) {
        if (policy.bypassMark() == mark) {
            throw new IllegalArgumentException(String.format("the policy's bypassMark 0x%x equals the tproxy mark; "
                    + "the two must differ (defaults: bypassMark 0x%x, tproxy mark 0x%x)", mark,
                    CapturePolicy.DEFAULT_BYPASS_MARK, DEFAULT_MARK));
        }
    }
}
