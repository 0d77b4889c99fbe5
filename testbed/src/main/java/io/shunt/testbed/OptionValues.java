package io.shunt.testbed;

import java.util.Map;

/** Option values of the testbed's commands (bench, bench-cni, soak), checked the same way in each. */
final class OptionValues {
    private OptionValues() {
    }

    /** The option's whole number in {@code min..max}, or {@code fallback} when it is not given. */
    static int integer(Map<String, String> given, String option, int fallback, int min, int max) {
        String value = given.get(option);
        if (value == null) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(value.strip());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below with the allowed range
        }
        throw new IllegalArgumentException(option + " " + value + ": give a whole number from " + min + " to " + max);
    }

    /** A name or comma-separated names passed on to the agent, e.g. a transport or a ranking. */
    static String word(Map<String, String> given, String option, String fallback) {
        String value = given.getOrDefault(option, fallback);
        if (!value.matches("[a-z0-9_,]+")) {
            throw new IllegalArgumentException(option + " '" + value + "': give a name such as auto, or a"
                    + " comma-separated list; see ./shunt agent --help");
        }
        return value;
    }
}
