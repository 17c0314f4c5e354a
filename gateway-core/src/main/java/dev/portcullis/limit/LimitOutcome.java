package dev.portcullis.limit;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.policy.Limit;
import dev.portcullis.store.Gcra;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * What the limits decided for one request (issue 18): the elements they refused, the concurrency permits
 * the request holds until it ends, and the state of each rate it counted against (for the
 * {@code RateLimit}/{@code RateLimit-Policy} headers). Filled by the {@link Limiter}, possibly on the store's
 * threads, so every method is synchronized; {@link #release()} gives every permit back exactly once, and a
 * permit granted after it (the request ended while the store was answering) is given back at once.
 */
public final class LimitOutcome {
    private final CompletableFuture<LimitOutcome> done = new CompletableFuture<>();
    private final List<Permit> permits = new ArrayList<>(2);
    private final List<RateState> rates = new ArrayList<>(2);
    private Map<Integer, GatewayFailure> refused;
    private boolean released;
    private int pending;

    /** Where a permit goes back: the store that granted it, or this replica's reserve of the cap. */
    @FunctionalInterface
    interface Releaser {
        void release(String key, String lease);
    }

    /** A held concurrency permit and where it goes back. */
    record Permit(Releaser releaser, String key, String lease) {
        void release() {
            releaser.release(key, lease);
        }
    }

    /** A rate's state after this request: what the headers report. */
    record RateState(Limit limit, long remaining, long resetMicros) {}

    LimitOutcome(int pending) {
        this.pending = pending;
        if (pending == 0) {
            done.complete(this);
        }
    }

    /** Whether every limit has answered. */
    public synchronized boolean ready() {
        return done.isDone();
    }

    /** Completes (never exceptionally) when every limit has answered. */
    public CompletableFuture<LimitOutcome> future() {
        return done;
    }

    synchronized void messageDone() {
        if (--pending == 0) {
            done.complete(this);
        }
    }

    synchronized void hold(Permit permit) {
        if (released) {
            permit.release();
        } else {
            permits.add(permit);
        }
    }

    synchronized void rate(Limit limit, long remaining, long resetMicros) {
        for (int i = 0; i < rates.size(); i++) {
            RateState state = rates.get(i);
            if (state.limit() == limit) {
                if (remaining < state.remaining()) {
                    rates.set(i, new RateState(limit, remaining, resetMicros));
                }
                return;
            }
        }
        rates.add(new RateState(limit, remaining, resetMicros));
    }

    synchronized void refuse(int index, GatewayFailure failure) {
        if (refused == null) {
            refused = new HashMap<>();
        }
        refused.putIfAbsent(index, failure);
    }

    /** The refused elements by index in the request (empty: all passed). */
    public synchronized Map<Integer, GatewayFailure> refused() {
        return refused == null ? Map.of() : Map.copyOf(refused);
    }

    /** Permits held now (tests). */
    public synchronized int held() {
        return permits.size();
    }

    /** Gives every permit back; later calls do nothing. Called when the request ends, however it ends. */
    public synchronized void release() {
        if (released) {
            return;
        }
        released = true;
        for (Permit permit : permits) {
            permit.release();
        }
        permits.clear();
    }

    /**
     * {@code base} plus {@code RateLimit-Policy} and {@code RateLimit} for each rate counted
     * (draft-ietf-httpapi-ratelimit-headers-12; see docs/limits.md); {@code base} itself when none.
     */
    public synchronized HttpHeaders headers(HttpHeaders base) {
        if (rates.isEmpty()) {
            return base;
        }
        StringBuilder policy = new StringBuilder();
        StringBuilder state = new StringBuilder();
        for (RateState rate : rates) {
            Limit limit = rate.limit();
            String name = structuredString(limit.id());
            if (policy.length() > 0) {
                policy.append(", ");
                state.append(", ");
            }
            policy.append(name).append(";q=").append(limit.count()).append(";w=").append(limit.period().toSeconds());
            state.append(name).append(";r=").append(rate.remaining()).append(";t=")
                    .append(rate.resetMicros() <= 0 ? 0 : Gcra.seconds(rate.resetMicros()));
        }
        HttpHeaders out = new DefaultHttpHeaders();
        if (base != null) {
            out.add(base);
        }
        out.set("RateLimit-Policy", policy.toString());
        out.set("RateLimit", state.toString());
        return out;
    }

    /** An RFC 8941 sf-string: printable ASCII, {@code "} and {@code \} escaped, anything else as {@code _}. */
    static String structuredString(String text) {
        StringBuilder out = new StringBuilder(text.length() + 2).append('"');
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c >= 0x20 && c <= 0x7e) {
                out.append(c);
            } else {
                out.append('_');
            }
        }
        return out.append('"').toString();
    }
}
