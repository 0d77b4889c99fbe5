package io.shunt.hijack.probe;

import io.shunt.ffi.netns.NetNs;
import io.shunt.ffi.netns.NetNsException;
import io.shunt.ffi.nft.Nftables;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code NetNs.createScratch()}, the probe's sandbox. (It belongs with native's NetNsTest; it lives
 * here because the probe's owner may not edit that file.)
 */
class ScratchNetNsCreationTest {

    @Test
    void aScratchNamespaceIsNewAnonymousAndGoneWithItsHandle() throws Exception {
        String named = ProbeHost.namedNetns();
        String rootRules = Nftables.run("list ruleset");
        long home = ProbeHost.currentNetnsInode();
        long inode;
        try (NetNs scratch = NetNs.createScratch(); NetNs other = NetNs.createScratch()) {
            inode = scratch.inode();
            assertNotEquals(home, inode);
            assertNotEquals(inode, other.inode());
            assertEquals(home, ProbeHost.currentNetnsInode(), "creating it must not move the calling thread");
            assertEquals(inode, (long) scratch.run(ProbeHost::currentNetnsInode));
            assertEquals("scratch netns (inode " + inode + ")", scratch.toString());
            assertEquals(named, ProbeHost.namedNetns(), "a scratch netns has no name");

            // the path is a real handle while this one is open: opening it reaches the same namespace
            assertTrue(scratch.path().toString().startsWith("/proc/" + ProcessHandle.current().pid() + "/fd/"),
                    scratch.path().toString());
            try (NetNs again = NetNs.open(scratch.path())) {
                assertEquals(inode, again.inode());
            }

            scratch.run(() -> Nftables.run("table inet shunt_ut { chain shunt_outbound_ut { type filter hook output "
                    + "priority 0; }; }"));
            assertTrue(scratch.run(() -> Nftables.run("list tables")).contains("table inet shunt_ut"));
            assertFalse(other.run(() -> Nftables.run("list tables")).contains("shunt_ut"));
            assertEquals(rootRules, Nftables.run("list ruleset"));
            assertTrue(ProbeHost.netnsFds().contains("net:[" + inode + "]"));
        }
        assertEquals(named, ProbeHost.namedNetns());
        assertFalse(ProbeHost.netnsFds().contains("net:[" + inode + "]"), "the handle outlived close()");
        assertEquals(rootRules, Nftables.run("list ruleset"));
    }

    @Test
    void aClosedScratchNamespaceCannotBeEnteredAndSaysWhichItWas() throws Exception {
        NetNs scratch = NetNs.createScratch();
        scratch.close();
        scratch.close();
        NetNsException e = assertThrows(NetNsException.class, () -> scratch.run(() -> 1));
        assertEquals("network namespace scratch netns (inode " + scratch.inode() + ") was closed", e.getMessage());
    }
}
