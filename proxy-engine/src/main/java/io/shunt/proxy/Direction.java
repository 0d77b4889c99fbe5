package io.shunt.proxy;

/** Which way a hijacked connection goes, seen from the pod. */
public enum Direction {
    /** The pod's application dialled out; the engine connects to the original destination. */
    OUTBOUND("outbound"),
    /** Someone dialled the pod; the engine delivers the connection to the pod's application. */
    INBOUND("inbound");

    private final String id;

    Direction(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }
}
