package io.shunt.cli;

/** Ages and uptimes for tables: 850ms, 42s, 5m3s, 2h10m, 3d4h. */
final class Durations {
    private Durations() {
    }

    static String human(long millis) {
        if (millis < 1000) {
            return millis + "ms";
        }
        long s = millis / 1000;
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return s / 60 + "m" + (s % 60 == 0 ? "" : s % 60 + "s");
        }
        if (s < 86400) {
            return s / 3600 + "h" + (s % 3600 / 60 == 0 ? "" : s % 3600 / 60 + "m");
        }
        return s / 86400 + "d" + (s % 86400 / 3600 == 0 ? "" : s % 86400 / 3600 + "h");
    }
}
