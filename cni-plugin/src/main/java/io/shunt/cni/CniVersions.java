package io.shunt.cni;

import java.util.List;

/** The CNI spec versions the plugin speaks, and the few rules that depend on the version. */
public final class CniVersions {
    /**
     * 0.4.0 because podman's CNI backend and Debian's reference plugins still write it; the plugin
     * only passes prevResult through, so the result format differences between versions do not
     * reach it.
     */
    public static final List<String> SUPPORTED = List.of("0.4.0", "1.0.0", "1.1.0");
    /** The version of our own output when the input names none we speak (VERSION, undecodable stdin). */
    public static final String PREFERRED = "1.1.0";
    /** STATUS and GC exist from this version on. */
    public static final String STATUS_AND_GC_SINCE = "1.1.0";

    private CniVersions() {
    }

    public static boolean supported(String version) {
        return SUPPORTED.contains(version);
    }

    /** Whether {@code version} is at least {@code minimum}; both must be {@code major.minor.patch}. */
    public static boolean atLeast(String version, String minimum) {
        int[] a = parse(version);
        int[] b = parse(minimum);
        for (int i = 0; i < 3; i++) {
            if (a[i] != b[i]) {
                return a[i] > b[i];
            }
        }
        return true;
    }

    private static int[] parse(String version) {
        String[] parts = version.split("\\.", -1);
        if (parts.length != 3) {
            throw new IllegalArgumentException("not a major.minor.patch version: " + version);
        }
        int[] numbers = new int[3];
        for (int i = 0; i < 3; i++) {
            numbers[i] = Integer.parseInt(parts[i]);
        }
        return numbers;
    }
}
