package io.shunt.k8s;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Queues every {@link PodEvents} call so a test can take them in order, each with a deadline, and
 * remembers which thread delivered them.
 */
final class RecordingPodEvents implements PodEvents {
    /** Generous for a loaded 2-core machine; a passing test never waits this long. */
    static final Duration DEADLINE = Duration.ofSeconds(10);

    sealed interface Event permits Upserted, Deleted, Synced {
    }

    record Upserted(PodIntent pod) implements Event {
    }

    record Deleted(String namespace, String name, String uid) implements Event {
    }

    record Synced() implements Event {
    }

    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final List<Event> taken = new ArrayList<>();
    final List<String> threads = new CopyOnWriteArrayList<>();

    @Override
    public void upserted(PodIntent pod) {
        record(new Upserted(pod));
    }

    @Override
    public void deleted(String namespace, String name, String uid) {
        record(new Deleted(namespace, name, uid));
    }

    @Override
    public void synced() {
        record(new Synced());
    }

    private void record(Event e) {
        threads.add(Thread.currentThread().getName());
        events.add(e);
    }

    /** The next call, waiting up to {@link #DEADLINE}. */
    Event next() {
        try {
            Event e = events.poll(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
            if (e == null) {
                fail("no PodEvents call within " + DEADLINE.toSeconds() + " s; calls so far: " + taken);
            }
            taken.add(e);
            return e;
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted waiting for a PodEvents call", ex);
        }
    }

    PodIntent nextUpserted() {
        return assertInstanceOf(Upserted.class, next(), () -> "expected upserted; calls so far: " + taken).pod();
    }

    Deleted nextDeleted() {
        return assertInstanceOf(Deleted.class, next(), () -> "expected deleted; calls so far: " + taken);
    }

    void nextSynced() {
        assertEquals(new Synced(), next(), () -> "expected synced; calls so far: " + taken);
    }

    /** Calls already queued and not yet taken; no waiting. */
    List<Event> pending() {
        return List.copyOf(events);
    }
}
