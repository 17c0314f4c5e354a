package dev.portcullis.store;

import dev.portcullis.Caches;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The in-process {@link ClusterStore}: one replica's limits, and the per-replica fallback of a
 * {@link RedisStore} route with {@code fail: local}. Buckets live in a bounded Caffeine cache and expire
 * once full again (an expired bucket and a full one are the same); concurrency counters exist while a
 * permit is held (so they are bounded by the calls in progress). The synchronous methods ({@link #takeNow},
 * {@link #acquireNow}, {@link #releaseNow}) are the hot path: one cache lookup and a compare-and-set, no
 * allocation once a bucket exists.
 */
public final class MemoryStore implements ClusterStore {
    /** The default bound on buckets held at once (about 100 bytes each). */
    public static final long DEFAULT_MAX_BUCKETS = 200_000;

    private final Cache<String, Bucket> buckets;
    private final ConcurrentHashMap<String, AtomicLong> permits = new ConcurrentHashMap<>();
    private final Cache<String, String> entries;
    private final long originNanos = System.nanoTime();

    /** One bucket: its TAT (microseconds since {@link #originNanos}) and how long it takes to refill. */
    static final class Bucket extends AtomicLong {
        private static final long serialVersionUID = 1L;
        final long periodNanos;

        Bucket(long periodMicros) {
            this.periodNanos = periodMicros * 1_000;
        }
    }

    public MemoryStore() {
        this(DEFAULT_MAX_BUCKETS);
    }

    public MemoryStore(long maxBuckets) {
        this.buckets = Caches.onCallingThread().maximumSize(maxBuckets).expireAfter(new Expiry<String, Bucket>() {
            @Override
            public long expireAfterCreate(String key, Bucket bucket, long currentTime) {
                return bucket.periodNanos;
            }

            @Override
            public long expireAfterUpdate(String key, Bucket bucket, long currentTime, long currentDuration) {
                return bucket.periodNanos;
            }

            @Override
            public long expireAfterRead(String key, Bucket bucket, long currentTime, long currentDuration) {
                return bucket.periodNanos; // a bucket read was (almost always) just taken from: full again a period later
            }
        }).build();
        this.entries = Caches.onCallingThread().maximumSize(maxBuckets).expireAfter(new Expiry<String, String>() {
            @Override
            public long expireAfterCreate(String key, String value, long currentTime) {
                return TimeUnit.MINUTES.toNanos(5); // replaced by putIfAbsent's own ttl
            }

            @Override
            public long expireAfterUpdate(String key, String value, long currentTime, long currentDuration) {
                return currentDuration;
            }

            @Override
            public long expireAfterRead(String key, String value, long currentTime, long currentDuration) {
                return currentDuration;
            }
        }).build();
    }

    long nowMicros() {
        return (System.nanoTime() - originNanos) / 1_000 + 1; // > 0, so a fresh bucket's TAT of 0 is in the past
    }

    /** As {@link #take}, now. */
    public long takeNow(String key, long intervalMicros, long periodMicros) {
        Bucket bucket = buckets.getIfPresent(key);
        if (bucket == null) {
            bucket = buckets.get(key, k -> new Bucket(periodMicros));
        }
        long now = nowMicros();
        while (true) {
            long tat = bucket.get();
            long result = Gcra.decide(tat, now, intervalMicros, periodMicros);
            if (!Gcra.allowed(result) || bucket.compareAndSet(tat, Gcra.nextTat(tat, now, intervalMicros))) {
                return result;
            }
        }
    }

    /**
     * Gives back a call {@link #takeNow} allowed on {@code key} (a later limit of the same call refused it):
     * the bucket's TAT moves back by one interval, as if the call had not been made.
     */
    public void refundNow(String key, long intervalMicros) {
        Bucket bucket = buckets.getIfPresent(key);
        if (bucket != null) {
            bucket.addAndGet(-intervalMicros);
        }
    }

    /** As {@link #check}, now: all or nothing, by giving back what the call took when a later limit refuses it. */
    public long[] checkNow(List<Take> rates, List<Acquire> permits) {
        int r = rates.size();
        long[] result = new long[1 + r + permits.size()];
        for (int i = 0; i < r; i++) {
            Take take = rates.get(i);
            result[1 + i] = takeNow(take.key(), take.intervalMicros(), take.periodMicros());
            if (!Gcra.allowed(result[1 + i])) {
                return refused(result, i + 1, rates, i, permits, 0);
            }
        }
        for (int j = 0; j < permits.size(); j++) {
            Acquire acquire = permits.get(j);
            if (!acquireNow(acquire.key(), acquire.limit(), acquire.count())) {
                return refused(result, r + j + 1, rates, r, permits, j);
            }
            result[1 + r + j] = acquire.count();
        }
        return result;
    }

    /** Gives back the first {@code ratesTaken} rates and {@code permitsTaken} permits of a refused check. */
    private long[] refused(long[] result, int at, List<Take> rates, int ratesTaken, List<Acquire> permits, int permitsTaken) {
        result[0] = at;
        for (int j = 0; j < permitsTaken; j++) {
            for (int q = 0; q < permits.get(j).count(); q++) {
                releaseNow(permits.get(j).key());
            }
            result[1 + rates.size() + j] = 0;
        }
        for (int i = 0; i < ratesTaken; i++) {
            Take take = rates.get(i);
            refundNow(take.key(), take.intervalMicros());
            result[1 + i] = Math.max(0, result[1 + i] - take.intervalMicros()); // its state without this call
        }
        return result;
    }

    /** As {@link #acquire}, now; leases are counted (this process holds them all, so none needs to expire). */
    public boolean acquireNow(String key, long limit) {
        return acquireNow(key, limit, 1);
    }

    /** {@code count} permits at once, or none. */
    public boolean acquireNow(String key, long limit, int count) {
        boolean[] taken = new boolean[1];
        permits.compute(key, (k, current) -> {
            AtomicLong held = current == null ? new AtomicLong() : current;
            if (held.get() + count <= limit) {
                held.addAndGet(count);
                taken[0] = true;
            }
            return held.get() == 0 ? null : held;
        });
        return taken[0];
    }

    /** As {@link #release}; the counter is removed at zero. */
    public void releaseNow(String key) {
        permits.computeIfPresent(key, (k, held) -> held.decrementAndGet() <= 0 ? null : held);
    }

    /** Permits of {@code key} held now (tests, {@code /readyz} detail). */
    public long held(String key) {
        AtomicLong held = permits.get(key);
        return held == null ? 0 : held.get();
    }

    /** Permits held over every key. */
    public long heldTotal() {
        return permits.values().stream().mapToLong(AtomicLong::get).sum();
    }

    @Override
    public CompletableFuture<Long> take(String key, long intervalMicros, long periodMicros) {
        return CompletableFuture.completedFuture(takeNow(key, intervalMicros, periodMicros));
    }

    @Override
    public CompletableFuture<Boolean> acquire(String key, long limit, String lease, Duration leaseTime) {
        return CompletableFuture.completedFuture(acquireNow(key, limit));
    }

    @Override
    public CompletableFuture<long[]> check(List<Take> rates, List<Acquire> permits) {
        return CompletableFuture.completedFuture(checkNow(rates, permits));
    }

    @Override
    public void release(String key, String lease) {
        releaseNow(key);
    }

    @Override
    public void refund(String key, long micros) {
        refundNow(key, micros);
    }

    @Override
    public CompletableFuture<Boolean> putIfAbsent(String key, String value, Duration ttl) {
        var expiring = entries.policy().expireVariably().orElseThrow();
        return CompletableFuture.completedFuture(expiring.putIfAbsent(key, value, ttl) == null);
    }

    @Override
    public CompletableFuture<java.util.Optional<String>> get(String key) {
        return CompletableFuture.completedFuture(java.util.Optional.ofNullable(entries.getIfPresent(key)));
    }

    @Override
    public CompletableFuture<Boolean> replace(String key, String expected, String value, Duration ttl) {
        // A refused compare-and-set leaves the entry and its expiry as they were (an update keeps the expiry).
        boolean replaced = entries.asMap().replace(key, expected, value);
        if (replaced) {
            entries.policy().expireVariably().orElseThrow().setExpiresAfter(key, ttl);
        }
        return CompletableFuture.completedFuture(replaced);
    }

    @Override
    public CompletableFuture<java.util.Optional<String>> take(String key) {
        return CompletableFuture.completedFuture(java.util.Optional.ofNullable(entries.asMap().remove(key)));
    }

    @Override
    public boolean up() {
        return true;
    }

    @Override
    public String describe() {
        return "memory";
    }

    @Override
    public void close() {
        buckets.invalidateAll();
        permits.clear();
        entries.invalidateAll();
    }
}
