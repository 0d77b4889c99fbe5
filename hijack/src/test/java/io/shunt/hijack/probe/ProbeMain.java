package io.shunt.hijack.probe;

/**
 * Runs the probe in a JVM of its own and prints the table, then one tab-separated
 * {@code RESULT id label} line per feature: for tests that probe under reduced privileges.
 */
public final class ProbeMain {
    private ProbeMain() {
    }

    public static void main(String[] args) {
        KernelFeatures features = KernelProbe.run();
        System.out.println(features.describe());
        for (Feature f : Feature.values()) {
            System.out.println("RESULT\t" + f.id() + "\t" + features.result(f).label());
        }
    }
}
