package dev.portcullis.store;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The project's one place for state shared by every replica (issue 18): rate-limit buckets and
 * concurrency permits first; DPoP {@code jti} replay entries and pending approvals use
 * {@link #putIfAbsent} later. Two implementations: {@link MemoryStore} (one replica, in process) and
 * {@link RedisStore} (Redis or Valkey, shared by the replicas). Every key the store writes is namespaced
 * and expires; nothing grows without bound.
 *
 * <p>Non-blocking: every method returns at once; a future completes on the store's own threads (never
 * waited on by an event loop). A store that cannot answer completes the future exceptionally with
 * {@link StoreUnavailableException}, quickly (a short timeout, or at once while its circuit is open).
 */
public interface ClusterStore extends AutoCloseable {
    /**
     * One call against a GCRA bucket ({@link Gcra}): a bucket of {@code periodMicros / intervalMicros}
     * calls that refills one call every {@code intervalMicros}.
     *
     * @return {@link Gcra} encoded: {@code >= 0} allowed (the value is the microseconds until the bucket is
     *         full again); {@code < 0} refused ({@link Gcra#retryAfterMicros} says when to retry)
     */
    CompletableFuture<Long> take(String key, long intervalMicros, long periodMicros);

    /**
     * Takes one of {@code limit} permits of {@code key} for {@code lease}, which expires after {@code leaseTime}
     * unless the store renews it (a replica that dies releases its permits by expiry).
     *
     * @return whether a permit was free
     */
    CompletableFuture<Boolean> acquire(String key, long limit, String lease, Duration leaseTime);

    /** One rate of a {@link #check}: a call against the GCRA bucket {@code key}, as {@link #take}. */
    record Take(String key, long intervalMicros, long periodMicros) {}

    /**
     * One concurrency cap of a {@link #check}: {@code count} of {@code limit} permits of {@code key} at once, all or none,
     * as {@link #acquire}; each held under its own lease ({@link #member}: {@code lease} itself when {@code count} is 1).
     * A count above 1 is a replica's reserve of permits ({@code store.reserve}), spent by its own later calls.
     */
    record Acquire(String key, long limit, String lease, Duration leaseTime, int count) {
        public Acquire(String key, long limit, String lease, Duration leaseTime) {
            this(key, limit, lease, leaseTime, 1);
        }

        public Acquire {
            if (count < 1) {
                throw new IllegalArgumentException("count " + count);
            }
        }

        /** The lease of the {@code i}-th permit (1-based) this acquires. */
        public String member(int i) {
            return count == 1 ? lease : lease + "#" + i;
        }
    }

    /**
     * Every limit of one call at once (issue 18: one store round trip per call, whatever its number of limits),
     * all or nothing: the rates in order, then the caps in order; the first limit that refuses stops the check,
     * and then nothing is counted (no rate consumed, no permit held). When every limit passes, every rate is
     * consumed and every permit held (give each back with {@link #release}).
     *
     * @return {@code [refusedAt, rate results..., permit results...]}: {@code refusedAt} is 0 when everything
     *         passed, else the 1-based position of the refusing limit among the rates then the permits. A rate's
     *         result is {@link Gcra} encoded; when the call was refused, an earlier rate's result is its state
     *         without this call (nothing was consumed). A permit's result is 1 (held) or 0. Results after
     *         {@code refusedAt} are 0 and mean nothing.
     */
    CompletableFuture<long[]> check(List<Take> rates, List<Acquire> permits);

    /**
     * Gives back {@code micros} of a rate bucket's time that this replica took and did not use (a reserve's calls left
     * when it expires: {@code store.reserve}), as if those calls had not been made. Not waited for; never blocks.
     */
    void refund(String key, long micros);

    /** Gives back the permit {@code lease} holds (once; a lease already gone is ignored). Never blocks. */
    void release(String key, String lease);

    /**
     * Sets {@code key} to {@code value} for {@code ttl} unless it is set (for replay checks and approvals).
     *
     * @return true when this call set it
     */
    CompletableFuture<Boolean> putIfAbsent(String key, String value, Duration ttl);

    /** Issue 17: the value of {@code key} (as set by {@link #putIfAbsent} or {@link #replace}), if set and not expired. */
    CompletableFuture<java.util.Optional<String>> get(String key);

    /**
     * Issue 17: sets {@code key} to {@code value} for {@code ttl} only while it holds {@code expected} (compare and
     * set, atomic across replicas): two approvers who act at once cannot both count from the same state.
     *
     * @return true when this call replaced it
     */
    CompletableFuture<Boolean> replace(String key, String expected, String value, Duration ttl);

    /**
     * Issue 17: removes {@code key} and returns what it held, atomically: of many replicas taking the same
     * single-use approval at once, exactly one gets it.
     */
    CompletableFuture<java.util.Optional<String>> take(String key);

    /** Whether the store answers (its circuit is closed); a {@link MemoryStore} always does. */
    boolean up();

    /** One line for logs and {@code /readyz}: the kind and address, never a credential. */
    String describe();

    @Override
    void close();
}
