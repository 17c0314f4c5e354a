package dev.portcullis;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * What a stage returns: its value now (the fast path: a cached token, a cached exchange), or a future
 * value when it has to wait for the network (a JWKS miss, a token request). The fast path allocates no
 * future and no callback chain.
 */
public final class Step<T> {
    private final T value;
    private final CompletableFuture<T> later;

    private Step(T value, CompletableFuture<T> later) {
        this.value = value;
        this.later = later;
    }

    public static <T> Step<T> now(T value) {
        return new Step<>(Objects.requireNonNull(value, "value"), null);
    }

    public static <T> Step<T> later(CompletableFuture<T> future) {
        return new Step<>(null, Objects.requireNonNull(future, "future"));
    }

    /** Whether the value is here now. */
    public boolean ready() {
        return later == null;
    }

    /** The value; only when {@link #ready()}. */
    public T value() {
        if (later != null) {
            throw new IllegalStateException("not ready: use future()");
        }
        return value;
    }

    /** The value to come; a completed future when {@link #ready()}. */
    public CompletableFuture<T> future() {
        return later != null ? later : CompletableFuture.completedFuture(value);
    }
}
