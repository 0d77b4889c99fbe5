package io.shunt.hijack.tc;

import io.shunt.ffi.bpf.BpfMap;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * Brings a live BPF map to given contents without a moment where it is emptier than both the old
 * and the new contents: a policy change must never let a connection through that neither policy
 * lets through. Used by every BPF technique's in-place update.
 */
public final class MapSync {
    private MapSync() {
    }

    /** Makes a map used as a set hold exactly {@code keys}: adds first, then removes the rest. */
    public static void replaceSet(BpfMap map, List<byte[]> keys) throws IOException {
        for (byte[] key : keys) {
            map.update(key, TcMaps.PRESENT, BpfMap.Update.ANY);
        }
        for (byte[] key : map.keys()) {
            if (keys.stream().noneMatch(k -> Arrays.equals(k, key))) {
                map.delete(key);
            }
        }
    }

    /** Writes a port bitmap word by word, skipping words that already hold their value. */
    public static void writeBitmap(BpfMap map, long[] words) throws IOException {
        for (int w = 0; w < words.length; w++) {
            byte[] value = TcMaps.u64(words[w]);
            byte[] key = TcMaps.u32(w);
            if (!Arrays.equals(map.lookup(key).orElse(null), value)) {
                map.update(key, value, BpfMap.Update.ANY);
            }
        }
    }
}
