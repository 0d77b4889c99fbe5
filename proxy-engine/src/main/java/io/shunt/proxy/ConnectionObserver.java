package io.shunt.proxy;

/** Told about every connection the engine ends; called on an event loop, so it must not block. */
@FunctionalInterface
public interface ConnectionObserver {
    void connectionClosed(ConnectionSummary summary);

    ConnectionObserver NONE = summary -> {
    };
}
