package io.shunt.hijack.probe;

import io.shunt.ffi.libc.Errno;
import io.shunt.ffi.libc.NativeCallException;
import io.shunt.ffi.netns.NetNs;
import io.shunt.ffi.rtnl.FwmarkRule;
import io.shunt.ffi.rtnl.PolicyRoutes;

/**
 * Probes fwmark policy routing, which tproxy needs to deliver marked packets locally: in a scratch
 * netns, add a fwmark rule and a local default route, exactly as the technique does, and read them
 * back.
 */
final class PolicyRoutingProbe {
    private static final int MARK = 0x5349;
    private static final int TABLE = 21321;
    private static final int PRIORITY = 100;

    private PolicyRoutingProbe() {
    }

    static ProbeResult run() {
        String what = "fwmark 0x" + Integer.toHexString(MARK) + " lookup " + TABLE + " and local 0.0.0.0/0 dev lo table "
                + TABLE;
        try (NetNs scratch = NetNs.createScratch()) {
            boolean readBack = scratch.run(() -> {
                PolicyRoutes.addFwmarkRule(MARK, TABLE, PRIORITY);
                PolicyRoutes.addLocalDefaultRoute(TABLE);
                return PolicyRoutes.fwmarkRules().contains(FwmarkRule.of(MARK, TABLE, PRIORITY))
                        && PolicyRoutes.hasLocalDefaultRoute(TABLE);
            });
            return readBack ? new ProbeResult.Supported(what + ": added and read back in a " + scratch)
                    : new ProbeResult.Unsupported(what + ": the kernel accepted them but does not list them back");
        } catch (NativeCallException e) {
            if (e.errno() == Errno.EPERM || e.errno() == Errno.EACCES) {
                return new ProbeResult.Inconclusive(what + ": not permitted (needs CAP_NET_ADMIN): " + e.getMessage());
            }
            return new ProbeResult.Unsupported(what + ": " + e.getMessage());
        } catch (Exception | LinkageError e) {
            return new ProbeResult.Inconclusive(what + ": " + e.getMessage());
        }
    }
}
