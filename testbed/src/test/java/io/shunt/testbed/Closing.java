package io.shunt.testbed;

/** Test tear-down: closes things in the order given, skipping nulls, and reports every failure. */
final class Closing {
    private Closing() {
    }

    static void inOrder(AutoCloseable... resources) throws Exception {
        Exception first = null;
        for (AutoCloseable resource : resources) {
            if (resource == null) {
                continue;
            }
            try {
                resource.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
