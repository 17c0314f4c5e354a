package dev.portcullis.authn;

import dev.portcullis.Caches;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.Step;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import java.time.Duration;

/**
 * A {@link ReplayGuard} in this process's memory: a Caffeine cache whose entries expire each after its own time to
 * live, holding at most {@code capacity} of them.
 *
 * <p>Full means refused, not forgotten: were entries evicted by size (Caffeine's admission policy may drop the
 * newest entry first), a proof seen seconds ago could be replayed. So when the guard holds {@code capacity} live
 * entries, a new proof is answered 503 until older ones expire ({@link Reason#REPLAY_CHECK_UNAVAILABLE}). Keys are
 * fixed-size digests (the caller's), so memory is bounded by {@code capacity}, whatever a client sends.
 */
public final class InMemoryReplayGuard implements ReplayGuard {
    private static final Step<Boolean> FIRST = Step.now(Boolean.TRUE);
    private static final Step<Boolean> REPLAY = Step.now(Boolean.FALSE);

    private final Cache<String, Long> seen;
    private final long capacity;

    /** @param capacity the most keys held at once */
    public InMemoryReplayGuard(long capacity, Ticker ticker) {
        this.capacity = capacity;
        this.seen = Caches.onCallingThread()
                .ticker(ticker)
                .expireAfter(Expiry.<String, Long>creating((key, ttlNanos) -> Duration.ofNanos(ttlNanos)))
                .build();
    }

    @Override
    public Step<Boolean> firstUse(String key, Duration ttl) {
        if (seen.getIfPresent(key) != null) {
            return REPLAY;
        }
        if (seen.estimatedSize() >= capacity) {
            throw GatewayFailure.of(Reason.REPLAY_CHECK_UNAVAILABLE, "The DPoP replay check is unavailable",
                    "replay cache full (" + capacity + " proofs within their windows)").withCode("replay_cache_full");
        }
        long nanos = Math.max(1, ttl.toNanos());
        return seen.asMap().putIfAbsent(key, nanos) == null ? FIRST : REPLAY;
    }

    /** Keys held (estimated; tests and metrics). */
    public long size() {
        return seen.estimatedSize();
    }
}
