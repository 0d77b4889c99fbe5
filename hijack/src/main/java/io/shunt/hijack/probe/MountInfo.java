package io.shunt.hijack.probe;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The mounts /proc/self/mountinfo lists, reduced to what the probe needs: type and mount point. */
public record MountInfo(String fsType, Path mountPoint) {

    /**
     * Parses mountinfo text (proc(5)): {@code id parent major:minor root mount-point options
     * [optional fields...] - fstype source super-options}. Lines that do not parse are skipped.
     */
    public static List<MountInfo> parse(String text) {
        List<MountInfo> mounts = new ArrayList<>();
        for (String line : text.lines().toList()) {
            String[] f = line.strip().split(" ");
            int separator = List.of(f).indexOf("-");
            if (f.length < 7 || separator < 6 || separator + 1 >= f.length) {
                continue;
            }
            mounts.add(new MountInfo(f[separator + 1], Path.of(unescape(f[4]))));
        }
        return mounts;
    }

    /** The kernel writes space, tab, newline and backslash in paths as 3-digit octal escapes. */
    static String unescape(String field) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && i + 3 < field.length() && field.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    public static List<Path> ofType(List<MountInfo> mounts, String fsType) {
        return mounts.stream().filter(m -> m.fsType.equals(fsType)).map(MountInfo::mountPoint).toList();
    }

    /** Where this process's mount namespace has cgroup v2 mounted, in mountinfo's order (often one place). */
    public static List<Path> cgroup2Mounts() throws java.io.IOException {
        return ofType(parse(java.nio.file.Files.readString(Path.of("/proc/self/mountinfo"))), "cgroup2");
    }
}
