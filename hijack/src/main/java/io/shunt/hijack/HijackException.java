package io.shunt.hijack;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Installing, removing or reading a technique's rules in a pod failed. The message names the
 * technique, the operation, the pod's netns path and the cause, including nft's own error text,
 * which points at the offending line of the script.
 */
public final class HijackException extends IOException {
    private final TechniqueId technique;
    private final Path netns;

    /**
     * @param operation what was being done, e.g. {@code "install"}
     * @param problem   what went wrong and, where known, what to do about it
     */
    public HijackException(TechniqueId technique, String operation, Path netns, String problem, Throwable cause) {
        super(technique.id() + " " + operation + " in netns " + netns + " failed: " + problem, cause);
        this.technique = technique;
        this.netns = netns;
    }

    public TechniqueId technique() {
        return technique;
    }

    /** The pod netns path the operation targeted. */
    public Path netns() {
        return netns;
    }
}
