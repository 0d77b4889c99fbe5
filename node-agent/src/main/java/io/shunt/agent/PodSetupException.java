package io.shunt.agent;

import java.io.IOException;

/** A pod could not be intercepted; whatever was set up for it has been taken down again. */
public final class PodSetupException extends IOException {
    public PodSetupException(String pod, String step, Throwable cause) {
        super("pod " + pod + ": " + step + " failed, nothing was installed: " + cause.getMessage(), cause);
    }

    public PodSetupException(String pod, String problem) {
        super("pod " + pod + ": " + problem);
    }
}
