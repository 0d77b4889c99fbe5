package io.shunt.agent.cni.conflist;

import java.nio.file.Path;

/** A CNI configuration file Shunt cannot chain into, because the runtime could not load it either. */
public final class InvalidConfigException extends Exception {
    private final Path file;

    public InvalidConfigException(Path file, String problem) {
        super(file + " " + problem);
        this.file = file;
    }

    public Path file() {
        return file;
    }
}
