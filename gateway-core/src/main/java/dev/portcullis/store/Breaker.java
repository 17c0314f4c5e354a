package dev.portcullis.store;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * A circuit breaker in front of the shared store: after {@code threshold} failures in a row it opens, and
 * calls skip the store (the route's fail mode applies at once, without waiting for a timeout) for
 * {@code openNanos}; then one call at a time probes it, and the first success closes the circuit.
 */
final class Breaker {
    private final int threshold;
    private final long openNanos;
    private final LongSupplier clock;
    private final AtomicInteger failures = new AtomicInteger();
    private final AtomicBoolean probing = new AtomicBoolean();
    private volatile boolean open;
    private volatile long openUntil;

    Breaker(int threshold, long openNanos, LongSupplier clock) {
        this.threshold = threshold;
        this.openNanos = openNanos;
        this.clock = clock;
    }

    /** Whether a call may go to the store now (closed, or this call is the half-open probe). */
    boolean allow() {
        if (!open) {
            return true;
        }
        if (clock.getAsLong() - openUntil < 0) {
            return false;
        }
        return probing.compareAndSet(false, true);
    }

    /** @return true when this success closed an open circuit */
    boolean success() {
        failures.set(0);
        probing.set(false);
        if (open) {
            open = false;
            return true;
        }
        return false;
    }

    /** @return true when this failure opened the circuit */
    boolean failure() {
        probing.set(false);
        if (open) {
            openUntil = clock.getAsLong() + openNanos; // the probe failed: stay open
            return false;
        }
        if (failures.incrementAndGet() >= threshold) {
            openUntil = clock.getAsLong() + openNanos;
            open = true;
            return true;
        }
        return false;
    }

    /** Open the circuit now (the connection is known to be down). */
    void trip() {
        failures.set(threshold);
        openUntil = clock.getAsLong() + openNanos;
        open = true;
    }

    boolean closed() {
        return !open;
    }
}
