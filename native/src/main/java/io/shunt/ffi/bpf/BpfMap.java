package io.shunt.ffi.bpf;

import io.shunt.ffi.libc.Errno;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A BPF map, used through its fd with libbpf's low-level calls ({@code bpf_map_update_elem},
 * {@code bpf_map_lookup_elem}, {@code bpf_map_delete_elem}). Keys and values are the bytes of the
 * C types in host byte order; {@link #update(int, long)} and {@link #lookupLong(int)} handle the
 * common {@code __u32 → __u64} case.
 *
 * <p>A map comes from a loaded {@link BpfObject} ({@link BpfObject#map}), and then lives as long
 * as the object and {@link #close()} does nothing, or from a pin ({@link #openPinned}), and then
 * this handle owns the fd and {@link #close()} releases it. Pinning a map and reusing it across
 * restarts: see {@link BpfObject#pinMapOnLoad}.
 */
public final class BpfMap implements AutoCloseable {
    /** How {@link #update} treats an existing key: BPF_ANY, BPF_NOEXIST, BPF_EXIST. */
    public enum Update {
        /** create or replace */
        ANY(0),
        /** create only; EEXIST when the key is there */
        NO_EXIST(1),
        /** replace only; ENOENT when the key is missing */
        EXIST(2);

        private final long flag;

        Update(long flag) {
            this.flag = flag;
        }
    }

    /** BPF_MAP_TYPE_ARRAY: its elements exist from creation on and cannot be deleted. */
    private static final int ARRAY = 2;
    /** Per-CPU maps take one value per possible CPU, which this class does not lay out (yet). */
    private static final Set<Integer> PER_CPU = Set.of(5, 6, 10, 21);

    private final String what;
    private final int fd;
    private final Guard guard;
    private final boolean ownsFd;
    private final int type;
    private final int id;
    private final int keySize;
    private final int valueSize;
    private final int maxEntries;
    private final String kernelName;

    private BpfMap(String what, int fd, Guard guard, boolean ownsFd, MemorySegment info) {
        this.what = what;
        this.fd = fd;
        this.guard = guard;
        this.ownsFd = ownsFd;
        this.type = info.get(JAVA_INT, offset("type"));
        this.id = info.get(JAVA_INT, offset("id"));
        this.keySize = info.get(JAVA_INT, offset("key_size"));
        this.valueSize = info.get(JAVA_INT, offset("value_size"));
        this.maxEntries = info.get(JAVA_INT, offset("max_entries"));
        this.kernelName = BpfFds.name(info, offset("name"), 16);
    }

    /** A view on map fd {@code fd}, sized by the kernel's own description of it. */
    static BpfMap of(String what, int fd, Guard guard, boolean ownsFd) throws BpfException {
        try (Arena arena = Arena.ofConfined()) {
            return new BpfMap(what, fd, guard, ownsFd, BpfFds.info(arena, fd, Libbpf.MAP_INFO, "map " + what));
        }
    }

    /**
     * Opens the map pinned at {@code pin} ({@code bpf_obj_get}); the handle owns the fd.
     *
     * @throws BpfException ENOENT when nothing is pinned there, EINVAL when the pin is no map
     */
    public static BpfMap openPinned(Path pin) throws IOException {
        int fd = BpfFds.open(pin, BpfFds.MAP);
        try {
            return of("pinned at " + pin, fd, new Guard("map pinned at " + pin + " (fd " + fd + ")"), true);
        } catch (IOException | RuntimeException e) {
            BpfFds.close(fd, "map pinned at " + pin);
            throw e;
        }
    }

    /** The map's name as the kernel keeps it (at most 15 characters). */
    public String name() {
        return kernelName;
    }

    public int fd() {
        return fd;
    }

    /** The kernel's id, as {@code bpftool map show id N} takes it. */
    public int id() {
        return id;
    }

    /** The BPF_MAP_TYPE_* value. */
    public int type() {
        return type;
    }

    public int keySize() {
        return keySize;
    }

    public int valueSize() {
        return valueSize;
    }

    public int maxEntries() {
        return maxEntries;
    }

    /** Writes {@code value} under {@code key}; both must have exactly the map's sizes. */
    public void update(byte[] key, byte[] value, Update mode) throws BpfException {
        checkSizes(key, value);
        guard.use(() -> {
            int rc;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment k = bytes(arena, key);
                MemorySegment v = bytes(arena, value);
                rc = Libbpf.invoke("bpf_map_update_elem",
                        () -> (int) Libbpf.handles().mapUpdate().invokeExact(fd, k, v, mode.flag));
            }
            if (rc < 0) {
                throw new BpfException("bpf_map_update_elem(" + this + ", key " + hex(key) + ", " + mode + ")", -rc,
                        List.of(), "", -rc == Errno.E2BIG ? "the map is full (max_entries " + maxEntries + ")" : "");
            }
            return null;
        });
    }

    /** The value under {@code key}, or empty when the key is not in the map. */
    public Optional<byte[]> lookup(byte[] key) throws BpfException {
        checkSizes(key, null);
        return guard.use(() -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment k = bytes(arena, key);
                MemorySegment v = arena.allocate(valueSize, 8);
                int rc = Libbpf.invoke("bpf_map_lookup_elem",
                        () -> (int) Libbpf.handles().mapLookup().invokeExact(fd, k, v));
                if (rc == -Errno.ENOENT) {
                    return Optional.<byte[]>empty();
                }
                if (rc < 0) {
                    throw new BpfException("bpf_map_lookup_elem(" + this + ", key " + hex(key) + ")", -rc);
                }
                return Optional.of(v.toArray(JAVA_BYTE));
            }
        });
    }

    /**
     * The keys in the map now ({@code bpf_map_get_next_key} from the start), at most
     * {@link #maxEntries()} of them. A map that changes meanwhile may give a key twice or miss one:
     * the kernel restarts from the first key when the previous one was deleted.
     */
    public List<byte[]> keys() throws BpfException {
        return guard.use(() -> {
            List<byte[]> keys = new java.util.ArrayList<>();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment previous = MemorySegment.NULL;
                MemorySegment next = arena.allocate(keySize, 8);
                while (keys.size() < maxEntries) {
                    MemorySegment from = previous;
                    int rc = Libbpf.invoke("bpf_map_get_next_key",
                            () -> (int) Libbpf.handles().mapNextKey().invokeExact(fd, from, next));
                    if (rc == -Errno.ENOENT) {
                        break;
                    }
                    if (rc < 0) {
                        throw new BpfException("bpf_map_get_next_key(" + this + ")", -rc);
                    }
                    byte[] key = next.toArray(JAVA_BYTE);
                    keys.add(key);
                    previous = bytes(arena, key);
                }
            }
            return keys;
        });
    }

    /**
     * Removes {@code key}; false when it was not there.
     *
     * @throws BpfException EINVAL for an array map, whose elements cannot be removed (write zero instead)
     */
    public boolean delete(byte[] key) throws BpfException {
        checkSizes(key, null);
        return guard.use(() -> {
            int rc;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment k = bytes(arena, key);
                rc = Libbpf.invoke("bpf_map_delete_elem", () -> (int) Libbpf.handles().mapDelete().invokeExact(fd, k));
            }
            if (rc == -Errno.ENOENT) {
                return false;
            }
            if (rc < 0) {
                throw new BpfException("bpf_map_delete_elem(" + this + ", key " + hex(key) + ")", -rc, List.of(), "",
                        type == ARRAY ? "array map elements cannot be deleted; write zero instead" : "");
            }
            return true;
        });
    }

    /** {@link #update} for a {@code __u32} key and a {@code __u64} value. */
    public void update(int key, long value) throws BpfException {
        update(hostOrder(4).putInt(key).array(), hostOrder(8).putLong(value).array(), Update.ANY);
    }

    /** {@link #lookup} for a {@code __u32} key and a {@code __u64} value. */
    public OptionalLong lookupLong(int key) throws BpfException {
        Optional<byte[]> value = lookup(hostOrder(4).putInt(key).array());
        return value.map(v -> OptionalLong.of(ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getLong()))
                .orElse(OptionalLong.empty());
    }

    /**
     * Pins the map at {@code pin} ({@code bpf_obj_pin}), creating the pin's folder if missing; the
     * folder must be on a bpffs. The pin keeps the map alive until {@link #unpin}.
     */
    public void pin(Path pin) throws IOException {
        guard.use(() -> {
            BpfFds.pin(fd, pin, "map " + what);
            return null;
        });
    }

    /** Removes the pin at {@code pin}; nothing happens when it is already gone. */
    public void unpin(Path pin) throws IOException {
        BpfFds.unpin(pin, "map " + what);
    }

    /** Releases the fd when this handle owns it ({@link #openPinned}); a map of an object closes with the object. */
    @Override
    public void close() {
        if (ownsFd) {
            guard.close(() -> BpfFds.close(fd, "map " + what));
        }
    }

    @Override
    public String toString() {
        return "map " + what + " (id " + id + ")";
    }

    private void checkSizes(byte[] key, byte[] value) {
        if (PER_CPU.contains(type)) {
            throw new UnsupportedOperationException(this + " is a per-CPU map (type " + type
                    + "), which needs a value per possible CPU; BpfMap does not support that yet");
        }
        if (key.length != keySize) {
            throw new IllegalArgumentException(this + " has " + keySize + "-byte keys, got " + key.length + " bytes");
        }
        if (value != null && value.length != valueSize) {
            throw new IllegalArgumentException(this + " has " + valueSize + "-byte values, got " + value.length + " bytes");
        }
    }

    private static MemorySegment bytes(Arena arena, byte[] data) {
        MemorySegment segment = arena.allocate(Math.max(1, data.length), 8);
        MemorySegment.copy(data, 0, segment, JAVA_BYTE, 0, data.length);
        return segment;
    }

    private static ByteBuffer hostOrder(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    }

    private static String hex(byte[] key) {
        String text = HexFormat.of().formatHex(key, 0, Math.min(key.length, 32));
        return key.length > 32 ? text + "..." : text;
    }

    private static long offset(String field) {
        return Libbpf.MAP_INFO.byteOffset(groupElement(field));
    }
}
