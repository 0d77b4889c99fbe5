package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The loader against the real kernel: the object the build compiled from
 * {@code src/main/bpf/shunt_probe.bpf.c} loads, its programs and map are found and usable, and
 * failures (bad bytes, a program the verifier rejects) say what went wrong and leave nothing behind.
 */
class BpfObjectTest {
    static final String PROBE = "shunt_probe";
    static final String TC_PASS = "shunt_tc_pass";
    static final String CONNECT4_PASS = "shunt_connect4_pass";
    static final String COUNTERS = "shunt_counters";
    /** Slots of shunt_counters (SHUNT_COUNTER_* in shunt_probe.bpf.c). */
    static final int COUNTER_TC = 0;
    static final int COUNTER_CONNECT4 = 1;

    @Test
    void theProbeObjectLoadsWithItsProgramsAndMap() throws Exception {
        int programId;
        int mapId;
        try (BpfObject object = BpfObject.open(PROBE)) {
            assertEquals(List.of(TC_PASS, CONNECT4_PASS), object.programNames());
            assertTrue(object.mapNames().contains(COUNTERS), object.mapNames().toString());
            object.load();
            assertTrue(object.isLoaded());

            BpfProgram tc = object.program(TC_PASS);
            assertTrue(tc.fd() > 0);
            programId = tc.id();
            assertTrue(Bpftool.run("prog", "show", "id", Integer.toString(programId)).output().contains("sched_cls"));
            assertTrue(Bpftool.programExists(object.program(CONNECT4_PASS).id()));

            BpfMap counters = object.map(COUNTERS);
            mapId = counters.id();
            assertEquals(COUNTERS, counters.name());
            assertEquals(2 /* BPF_MAP_TYPE_ARRAY */, counters.type());
            assertEquals(4, counters.keySize());
            assertEquals(8, counters.valueSize());
            assertEquals(2, counters.maxEntries());
            assertTrue(Bpftool.mapExists(mapId));
        }
        assertTrue(Bpftool.programGone(programId), "program " + programId + " outlived its object");
        assertTrue(Bpftool.mapGone(mapId), "map " + mapId + " outlived its object");
    }

    @Test
    void mapUpdateLookupRoundTrip() throws Exception {
        try (BpfObject object = BpfObject.open(PROBE)) {
            object.load();
            BpfMap counters = object.map(COUNTERS);
            assertEquals(OptionalLong.of(0), counters.lookupLong(COUNTER_TC), "array slots start at zero");
            counters.update(COUNTER_TC, 0x1122334455667788L);
            assertEquals(OptionalLong.of(0x1122334455667788L), counters.lookupLong(COUNTER_TC));

            byte[] key = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(COUNTER_CONNECT4).array();
            byte[] value = {1, 2, 3, 4, 5, 6, 7, 8};
            counters.update(key, value, BpfMap.Update.EXIST);
            assertArrayEquals(value, counters.lookup(key).orElseThrow());
            assertEquals(Optional.empty(), counters.lookup(new byte[]{9, 0, 0, 0}), "key past max_entries");

            BpfException noExist = assertThrows(BpfException.class, () -> counters.update(key, value, BpfMap.Update.NO_EXIST));
            assertEquals(Errno.EEXIST, noExist.errno(), noExist.getMessage());
            BpfException delete = assertThrows(BpfException.class, () -> counters.delete(key));
            assertEquals(Errno.EINVAL, delete.errno());
            assertTrue(delete.getMessage().contains("array map elements cannot be deleted"), delete.getMessage());
            IllegalArgumentException size = assertThrows(IllegalArgumentException.class, () -> counters.lookup(new byte[8]));
            assertTrue(size.getMessage().contains("4-byte keys, got 8"), size.getMessage());
        }
    }

    @Test
    void aClosedObjectIsUnusable() throws Exception {
        BpfObject object = BpfObject.open(PROBE);
        object.load();
        BpfMap counters = object.map(COUNTERS);
        object.close();
        object.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> counters.lookupLong(0));
        assertTrue(e.getMessage().contains("BPF object shunt_probe is closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> object.program(TC_PASS));
    }

    @Test
    void askingBeforeLoadOrForAWrongNameSaysWhatIsThere() throws Exception {
        try (BpfObject object = BpfObject.open(PROBE)) {
            IllegalStateException early = assertThrows(IllegalStateException.class, () -> object.map(COUNTERS));
            assertTrue(early.getMessage().contains("not loaded yet"), early.getMessage());
            object.load();
            BpfException missing = assertThrows(BpfException.class, () -> object.program("shunt_tc_redirect"));
            assertEquals(Errno.ENOENT, missing.errno());
            assertTrue(missing.getMessage().contains("has the programs [shunt_tc_pass, shunt_connect4_pass]"),
                    missing.getMessage());
            assertThrows(IllegalStateException.class, object::load, "libbpf allows one load");
        }
    }

    @Test
    void aMissingObjectSaysHowTheBuildMakesIt() {
        BpfException e = assertThrows(BpfException.class, () -> BpfObject.open("shunt_nonexistent"));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains("/io/shunt/ffi/bpf/programs/shunt_nonexistent.bpf.o"), e.getMessage());
        assertTrue(e.getMessage().contains("src/main/bpf/shunt_nonexistent.bpf.c"), e.getMessage());
    }

    @Test
    void truncatedBytesFailWithLibbpfsReason() throws Exception {
        byte[] elf;
        try (InputStream in = BpfObject.class.getResourceAsStream(BpfObject.RESOURCE_FOLDER + PROBE + ".bpf.o")) {
            elf = in.readAllBytes();
        }
        byte[] truncated = Arrays.copyOf(elf, elf.length / 2);
        BpfException e = assertThrows(BpfException.class, () -> BpfObject.open("shunt_truncated", truncated));
        assertTrue(e.getMessage().startsWith("bpf_object__open_mem(shunt_truncated, " + truncated.length + " bytes) failed: "),
                e.getMessage());
        assertTrue(e.errnoName().startsWith("LIBBPF_ERRNO__") || e.errno() == Errno.EINVAL, e.getMessage());
        assertFalse(e.libbpfLog().isEmpty(), "libbpf explains a bad object: " + e.getMessage());
        assertTrue(e.getMessage().contains("libbpf: "), e.getMessage());

        BpfException garbage = assertThrows(BpfException.class, () -> BpfObject.open("shunt_garbage", new byte[64]));
        assertTrue(garbage.getMessage().contains("not a BPF object"), garbage.getMessage());
    }

    @Test
    void aProgramTheVerifierRejectsFailsWithTheVerifierLogAndLeavesNothing() throws Exception {
        Set<Integer> programsBefore = Bpftool.programIds("shunt_tc_reject");
        Set<Integer> mapsBefore = Bpftool.mapIds("shunt_rejects");
        try (BpfObject object = BpfObject.open("shunt_reject")) {
            BpfException e = assertThrows(BpfException.class, object::load);
            assertEquals(Errno.EACCES, e.errno(), e.getMessage());
            assertTrue(e.getMessage().startsWith("bpf_object__load(shunt_reject, program shunt_tc_reject) failed: EACCES"),
                    e.getMessage());
            assertTrue(e.verifierLog().contains("invalid access to packet"), e.verifierLog());
            assertTrue(e.getMessage().contains("invalid access to packet"), e.getMessage());
            assertTrue(e.getMessage().contains("verifier rejected the program"), e.getMessage());
            assertFalse(object.isLoaded());
            assertThrows(IllegalStateException.class, () -> object.program("shunt_tc_reject"));
        }
        assertNoNew(programsBefore, () -> Bpftool.programIds("shunt_tc_reject"), "programs shunt_tc_reject");
        assertNoNew(mapsBefore, () -> Bpftool.mapIds("shunt_rejects"), "maps shunt_rejects");
    }

    @Test
    void aPinnedMapIsReusedByTheNextLoad() throws Exception {
        try (TestBpffs bpffs = new TestBpffs()) {
            Path pin = Bpffs.techniqueFolder(bpffs.root, "probe").resolve(COUNTERS);
            int mapId;
            try (BpfObject first = BpfObject.open(PROBE)) {
                first.pinMapOnLoad(COUNTERS, pin);
                first.load();
                assertTrue(Files.exists(pin), "libbpf pins the map on load");
                BpfMap counters = first.map(COUNTERS);
                mapId = counters.id();
                counters.update(COUNTER_TC, 42);
            }
            assertTrue(Bpftool.mapExists(mapId), "the pin keeps the map after its object closed");

            try (BpfObject second = BpfObject.open(PROBE)) {
                second.pinMapOnLoad(COUNTERS, pin);
                second.load();
                BpfMap counters = second.map(COUNTERS);
                assertEquals(mapId, counters.id(), "the second load reuses the pinned map");
                assertEquals(OptionalLong.of(42), counters.lookupLong(COUNTER_TC));
            }

            try (BpfMap pinned = BpfMap.openPinned(pin)) {
                assertEquals(mapId, pinned.id());
                assertEquals(OptionalLong.of(42), pinned.lookupLong(COUNTER_TC));
                pinned.unpin(pin);
                assertFalse(Files.exists(pin));
                assertTrue(Bpftool.mapExists(mapId), "this handle still holds the map");
            }
            assertTrue(Bpftool.mapGone(mapId), "unpinned and closed, the map is gone");
        }
    }

    @Test
    void aMapPinnedByHandCanBeOpenedButIsNoLink() throws Exception {
        try (TestBpffs bpffs = new TestBpffs(); BpfObject object = BpfObject.open(PROBE)) {
            object.load();
            BpfMap counters = object.map(COUNTERS);
            Path pin = bpffs.root.resolve("shunt/probe/by-hand");
            counters.pin(pin);
            BpfException again = assertThrows(BpfException.class, () -> counters.pin(pin));
            assertEquals(Errno.EEXIST, again.errno());
            BpfException notALink = assertThrows(BpfException.class, () -> BpfLink.openPinned(pin));
            assertTrue(notALink.getMessage().contains("holds a bpf-map, not a BPF link"), notALink.getMessage());
            try (BpfMap pinned = BpfMap.openPinned(pin)) {
                assertEquals(counters.id(), pinned.id());
            }
            counters.unpin(pin);
            assertFalse(Files.exists(pin));

            java.io.IOException outside = assertThrows(java.io.IOException.class,
                    () -> counters.pin(Path.of("/tmp/shunt-not-a-bpffs-" + ProcessHandle.current().pid() + "/x")));
            assertTrue(outside.getMessage().contains("is not on a bpffs"), outside.getMessage());
        }
    }

    /** No id in {@code now} that was not in {@code before}, allowing the kernel 5 s to free what was released. */
    private static void assertNoNew(Set<Integer> before, IdLister now, String what) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (true) {
            Set<Integer> added = new HashSet<>(now.ids());
            added.removeAll(before);
            if (added.isEmpty()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                fail(what + " left in the kernel: ids " + added);
            }
            Thread.sleep(50);
        }
    }

    private interface IdLister {
        Set<Integer> ids() throws Exception;
    }
}
