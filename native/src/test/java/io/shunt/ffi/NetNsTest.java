package io.shunt.ffi;

import io.shunt.ffi.netns.NetNs;
import io.shunt.ffi.netns.NetNsException;
import io.shunt.ffi.nft.NftException;
import io.shunt.ffi.nft.Nftables;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NetNsTest {

    private static long currentInode() throws Exception {
        return (Long) Files.getAttribute(Path.of("/proc/thread-self/ns/net"), "unix:ino");
    }

    @Test
    void entersTheNamespaceAndComesBackEvenWhenTheActionThrows() throws Exception {
        long home = currentInode();
        try (ScratchNetNs scratch = new ScratchNetNs("enter"); NetNs ns = NetNs.open(scratch.path())) {
            assertNotEquals(home, ns.inode());
            assertEquals(ns.inode(), (long) ns.run(NetNsTest::currentInode));
            assertEquals(home, currentInode());
            assertThrows(IllegalArgumentException.class, () -> ns.run(() -> {
                throw new IllegalArgumentException("boom");
            }));
            assertEquals(home, currentInode());
        }
    }

    @Test
    void refusesPathsThatAreNotNetworkNamespaces() {
        NetNsException missing = assertThrows(NetNsException.class, () -> NetNs.open(Path.of("/var/run/netns/shunt-no-such")));
        assertTrue(missing.getMessage().contains("/var/run/netns/shunt-no-such does not exist"), missing.getMessage());
        NetNsException file = assertThrows(NetNsException.class, () -> NetNs.open(Path.of("/etc/hostname")));
        assertTrue(file.getMessage().contains("is not a namespace file"), file.getMessage());
        NetNsException mnt = assertThrows(NetNsException.class, () -> NetNs.open(Path.of("/proc/self/ns/mnt")));
        assertTrue(mnt.getMessage().contains("not a network namespace"), mnt.getMessage());
    }

    @Test
    void aClosedHandleCannotBeEntered() throws Exception {
        try (ScratchNetNs scratch = new ScratchNetNs("closed")) {
            NetNs ns = NetNs.open(scratch.path());
            ns.close();
            ns.close();
            assertTrue(ns.isClosed());
            assertThrows(NetNsException.class, () -> ns.run(() -> 1));
        }
    }

    @Test
    void nestedEntryIsRefused() throws Exception {
        try (ScratchNetNs scratch = new ScratchNetNs("nest"); NetNs ns = NetNs.open(scratch.path())) {
            assertThrows(IllegalStateException.class, () -> ns.run(() -> ns.run(() -> 1)));
        }
    }

    @Test
    void nftablesAppliesOneTransactionInsideTheNamespaceOnly() throws Exception {
        String rootBefore = Nftables.run("list ruleset");
        try (ScratchNetNs scratch = new ScratchNetNs("nft"); NetNs ns = NetNs.open(scratch.path())) {
            ns.run(() -> Nftables.run("table inet shunt_ut { chain c { type filter hook output priority 0; }; }"));
            String listed = ns.run(() -> Nftables.run("list ruleset"));
            assertTrue(listed.contains("table inet shunt_ut"), listed);
            assertFalse(Nftables.run("list ruleset").contains("shunt_ut"));

            // A script with one bad command applies nothing, and the error names the problem.
            NftException bad = assertThrows(NftException.class, () -> ns.run(() -> Nftables.run(
                    "add table inet shunt_ut2\nadd chain inet shunt_ut2 c { type nat hook nowhere priority 0; }")));
            assertTrue(bad.getMessage().contains("unknown chain hook"), bad.getMessage());
            assertFalse(ns.run(() -> Nftables.run("list ruleset")).contains("shunt_ut2"));
            assertTrue(ns.run(() -> Nftables.runJson("list ruleset")).startsWith("{\"nftables\""));
        }
        assertEquals(rootBefore, Nftables.run("list ruleset"));
    }
}
