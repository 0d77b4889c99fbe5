package io.shunt.hijack;

import io.shunt.ffi.netns.NetNs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * What the BPF techniques' installs share: the steps a fresh install has taken, to be undone in
 * reverse when a later one fails, and running an operation in the pod's namespace with its
 * failure reported as a {@link HijackException}.
 */
public final class InstallSteps {
    /** How to take one step back. */
    @FunctionalInterface
    public interface Undo {
        void run() throws IOException;
    }

    private record Step(String what, Undo undo) {
    }

    private final List<Step> done = new ArrayList<>();

    /** Records a step that has been taken, named for the operator, and how to undo it. */
    public void add(String what, Undo undo) {
        done.add(new Step(what, undo));
    }

    /**
     * Undoes every recorded step, the last first, after {@code failure}; names what was undone in
     * {@code undone}, and adds what could not be undone to {@code failure} as suppressed.
     */
    public void rollBack(Exception failure, List<String> undone) {
        for (Step step : done.reversed()) {
            try {
                step.undo().run();
                undone.add(step.what());
            } catch (IOException | RuntimeException suppressed) {
                failure.addSuppressed(suppressed);
            }
        }
        done.clear();
    }

    /**
     * Runs {@code action} in the pod's namespace; an IOException becomes a HijackException naming
     * the technique, the operation and the pod, with {@code consequence}'s words about the state
     * left behind (empty for none).
     */
    public static <T> T inPod(TechniqueId technique, NetNs pod, String operation, NetNs.NetNsAction<T, IOException> action,
                              Function<IOException, String> consequence) throws HijackException {
        try {
            return pod.run(action);
        } catch (IOException e) {
            String after = consequence.apply(e);
            throw new HijackException(technique, operation, pod.path(),
                    e.getMessage() + (after.isEmpty() ? "" : "\n(" + after + ")"), e);
        }
    }
}
