package dev.portcullis.limit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Scheduler;
import dev.portcullis.Caches;
import dev.portcullis.config.StoreConfig;
import dev.portcullis.policy.Limit;
import dev.portcullis.store.ClusterStore;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Issue 18: this replica's reserves of shared limits ({@code store.reserve}). A call that finds no reserve asks the
 * shared store for more than itself: a rate's bucket is charged for {@code size} calls at once (one GCRA call of
 * {@code size} intervals), a cap's set gets {@code size} permits at once, both in the call's one round trip and all or
 * nothing. The calls that follow on this replica spend the reserve without asking the store. So a hot counter costs
 * one round trip per reserve, not per call, and the store still counted every call before it was admitted: a reserve
 * never lets more calls through than the limit over time.
 *
 * <p>Sizes: a counter's first call asks for one (exact, as without a reserve); a reserve used up within {@code hold}
 * doubles the next one, one not used up shrinks it to what was used; never more than {@code share} of the limit (nor
 * {@link StoreConfig#MAX_RESERVE}). A limit whose share is under two calls never reserves: small limits stay exact.
 *
 * <p>Giving back: a rate's reserve is spendable for {@code hold} after it was taken; the calls left then are given
 * back to the bucket ({@link ClusterStore#refund}), as are those of a reserve replaced by a newer one. A cap's spare
 * permits are released when they were not used for {@code hold}, and at once beyond one reserve's worth of spares;
 * a permit is reused for at most {@code maxPermitAge} after the store granted it (half the lease time), so a permit
 * the store lost (a Redis restart without persistence) is not counted by this replica for longer than that.
 * What another replica may find missing at a moment: at most one reserve per counter per replica.
 *
 * <p>Thread-safe and lock-free on the request path (atomics and a concurrent queue); the sweep of idle permits runs
 * on its own daemon thread.
 */
final class Reserves implements AutoCloseable {
    private final ClusterStore shared;
    private final double share;
    private final long holdNanos;
    private final long maxPermitAgeNanos;
    private final LongSupplier nanos;
    private final Cache<String, RateReserve> rates;
    private final ConcurrentHashMap<String, PermitPool> pools = new ConcurrentHashMap<>();
    /** Counters whose next reserve is being asked for: one call refills, the others meanwhile ask for themselves. */
    private final java.util.Set<String> refilling = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService sweeper;
    private volatile boolean closed;

    Reserves(ClusterStore shared, double share, Duration hold, LongSupplier nanos, boolean sweep) {
        this(shared, share, hold, Duration.ofSeconds(30), nanos, sweep);
    }

    Reserves(ClusterStore shared, double share, Duration hold, Duration maxPermitAge, LongSupplier nanos, boolean sweep) {
        this.shared = shared;
        this.share = share;
        this.holdNanos = hold.toNanos();
        this.maxPermitAgeNanos = maxPermitAge.toNanos();
        this.nanos = nanos;
        this.rates = Caches.onCallingThread()
                .maximumSize(100_000)
                .expireAfterWrite(hold.multipliedBy(2))
                .scheduler(sweep ? Scheduler.systemScheduler() : Scheduler.disabledScheduler())
                .<String, RateReserve>removalListener((key, reserve, cause) -> {
                    if (key != null && reserve != null) {
                        reserve.giveBackUnused(shared, key);
                    }
                })
                .build();
        if (sweep) {
            this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread thread = new Thread(r, "portcullis-limit-reserves");
                thread.setDaemon(true);
                return thread;
            });
            long every = Math.max(5, hold.toMillis() / 2);
            sweeper.scheduleWithFixedDelay(this::sweep, every, every, TimeUnit.MILLISECONDS);
        } else {
            this.sweeper = null;
        }
    }

    /** The largest reserve of {@code limit}: its share, at most {@link StoreConfig#MAX_RESERVE}; under 2 means none. */
    int maxSize(Limit limit) {
        return (int) Math.min(StoreConfig.MAX_RESERVE, (long) Math.floor(limit.count() * share));
    }

    // ---- rates ----

    /**
     * Calls taken from a rate's shared bucket at once: {@code left} of them not spent yet. {@code left} becomes
     * negative when the reserve is given back, so no call spends it afterwards.
     */
    static final class RateReserve {
        private static final long GIVEN_BACK = Long.MIN_VALUE / 2;
        final int size;
        final long takenAtNanos;
        /** What the store answered for the whole reserve (Gcra encoded): the bucket without the reserve's calls. */
        final long bucket;
        final long intervalMicros;
        final AtomicLong left;

        RateReserve(int size, long takenAtNanos, long bucket, long intervalMicros) {
            this.size = size;
            this.takenAtNanos = takenAtNanos;
            this.bucket = bucket;
            this.intervalMicros = intervalMicros;
            this.left = new AtomicLong(size - 1); // the first call is the one that took it
        }

        boolean take() {
            while (true) {
                long n = left.get();
                if (n <= 0) {
                    return false;
                }
                if (left.compareAndSet(n, n - 1)) {
                    return true;
                }
            }
        }

        /** A call this reserve allowed and a later limit refused: back into the reserve, or to the store once given back. */
        void putBack(ClusterStore shared, String key) {
            while (true) {
                long n = left.get();
                if (n < 0) {
                    shared.refund(key, intervalMicros);
                    return;
                }
                if (left.compareAndSet(n, n + 1)) {
                    return;
                }
            }
        }

        void giveBackUnused(ClusterStore shared, String key) {
            long unused = left.getAndSet(GIVEN_BACK);
            if (unused > 0) {
                shared.refund(key, unused * intervalMicros);
            }
        }

        long used() {
            long n = left.get();
            return n < 0 ? size : size - n;
        }
    }

    /** A call of {@code key} spent from this replica's reserve, or null when there is none (ask the store). */
    RateReserve takeRate(String key) {
        RateReserve reserve = rates.getIfPresent(key);
        if (reserve == null || nanos.getAsLong() - reserve.takenAtNanos >= holdNanos) {
            return null;
        }
        return reserve.take() ? reserve : null;
    }

    /**
     * Whether the calling check asks for {@code key}'s next reserve: only one check at a time does (the others that find
     * no reserve meanwhile ask for their call alone, and do not install what they get), so a burst of calls that all
     * find the reserve empty takes one reserve, not one each. Ended by {@link #endRefill}, whatever the store answered.
     */
    boolean startRefill(String key, Limit limit) {
        return maxSize(limit) >= 2 && refilling.add(key);
    }

    void endRefill(String key) {
        refilling.remove(key);
    }

    /** How long ago {@code reserve} was taken, in microseconds. */
    long ageMicros(RateReserve reserve) {
        return (nanos.getAsLong() - reserve.takenAtNanos) / 1_000;
    }

    /** How many calls of {@code key} to ask the store for now (by the check that {@link #startRefill started} its refill). */
    int rateSize(String key, Limit limit) {
        int max = maxSize(limit);
        if (max < 2) {
            return 1;
        }
        RateReserve last = rates.getIfPresent(key);
        if (last == null) {
            return 1;
        }
        boolean fresh = nanos.getAsLong() - last.takenAtNanos < holdNanos;
        long used = last.used();
        int next = used >= last.size && fresh ? last.size * 2 : (int) Math.max(1, used);
        return Math.min(max, next);
    }

    /** The store granted {@code size > 1} calls of {@code key} to the call that asked: the rest is the new reserve. */
    RateReserve installRate(String key, Limit limit, int size, long bucket) {
        RateReserve reserve = new RateReserve(size, nanos.getAsLong(), bucket, limit.intervalMicros());
        if (closed) {
            reserve.giveBackUnused(shared, key);
        } else {
            rates.put(key, reserve); // a reserve it replaces gives its unused calls back (removal listener)
        }
        return reserve;
    }

    // ---- concurrency caps ----

    /** A cap's permits held by this replica: {@code held} in all, those in {@code free} not used by a call now. */
    static final class PermitPool {
        final ConcurrentLinkedQueue<String> free = new ConcurrentLinkedQueue<>();
        /** When the store granted each permit held (by lease). */
        final ConcurrentHashMap<String, Long> grantedAt = new ConcurrentHashMap<>();
        final AtomicInteger spare = new AtomicInteger();
        final AtomicInteger held = new AtomicInteger();
        final int max;
        volatile int size;
        volatile long refilledAtNanos;
        volatile long usedAtNanos;

        PermitPool(int max) {
            this.max = max;
        }
    }

    /** A permit of {@code key} from this replica's spares (its lease), or null when there is none (ask the store). */
    String takePermit(String key) {
        PermitPool pool = pools.get(key);
        if (pool == null) {
            return null;
        }
        String member = pool.free.poll();
        if (member != null) {
            pool.spare.decrementAndGet();
            pool.usedAtNanos = nanos.getAsLong();
        }
        return member;
    }

    /** How many permits of {@code key} to ask the store for now (by the check that {@link #startRefill started} its refill). */
    int permitSize(String key, Limit limit) {
        int max = maxSize(limit);
        if (max < 2) {
            return 1;
        }
        PermitPool pool = pools.get(key);
        if (pool == null) {
            return 1;
        }
        boolean fresh = nanos.getAsLong() - pool.refilledAtNanos < holdNanos;
        return Math.min(max, fresh ? Math.max(1, pool.size) * 2 : 1);
    }

    /** Whether {@code limit}'s permits go through a pool (its share is two permits or more). */
    boolean pooled(Limit limit) {
        return maxSize(limit) >= 2;
    }

    /**
     * The store granted {@code acquire}'s permits to the call that asked: its first is the call's, the others become
     * spares. All of them are this replica's from now on: a call's permit comes back to the pool when it ends.
     * {@code refilled}: asked for as the counter's next reserve ({@link #startRefill}), not for the call alone.
     */
    void installPermits(ClusterStore.Acquire acquire, Limit limit, boolean refilled) {
        long now = nanos.getAsLong();
        PermitPool pool = pools.compute(acquire.key(), (k, p) -> {
            PermitPool target = p == null ? new PermitPool(maxSize(limit)) : p;
            target.held.addAndGet(acquire.count());
            if (refilled) { // the size and time of the last reserve size the next one
                target.size = acquire.count();
                target.refilledAtNanos = now;
            }
            target.usedAtNanos = now;
            for (int i = 1; i <= acquire.count(); i++) {
                target.grantedAt.put(acquire.member(i), now);
            }
            return target;
        });
        for (int i = 2; i <= acquire.count(); i++) {
            giveBack(pool, acquire.key(), acquire.member(i));
        }
    }

    /** A call's permit from a pool: back to the pool's spares, or to the store beyond one reserve's worth of spares. */
    void releasePermit(String key, String member) {
        PermitPool pool = pools.get(key); // present: it holds this member, so it was not dropped
        if (pool == null) {
            shared.release(key, member);
            return;
        }
        pool.usedAtNanos = nanos.getAsLong();
        giveBack(pool, key, member);
    }

    private void giveBack(PermitPool pool, String key, String member) {
        Long granted = pool.grantedAt.get(member);
        if (closed || pool.spare.get() >= pool.max || granted == null || nanos.getAsLong() - granted >= maxPermitAgeNanos) {
            pool.grantedAt.remove(member);
            pool.held.decrementAndGet();
            shared.release(key, member);
            dropIfEmpty(key);
            return;
        }
        pool.spare.incrementAndGet();
        pool.free.offer(member);
    }

    private void dropIfEmpty(String key) {
        pools.computeIfPresent(key, (k, p) -> p.held.get() == 0 ? null : p);
    }

    /** Releases the spares of every pool unused for {@code hold} (and, when closing, all of them). */
    void sweep() {
        long now = nanos.getAsLong();
        pools.forEach((key, pool) -> {
            if (closed || now - pool.usedAtNanos >= holdNanos) {
                String member;
                while ((member = pool.free.poll()) != null) {
                    pool.grantedAt.remove(member);
                    pool.spare.decrementAndGet();
                    pool.held.decrementAndGet();
                    shared.release(key, member);
                }
                dropIfEmpty(key);
            }
        });
        if (closed) {
            rates.invalidateAll();
        } else {
            rates.cleanUp();
        }
    }

    /** Permits this replica holds for {@code key}: in use and spare (tests). */
    int held(String key) {
        PermitPool pool = pools.get(key);
        return pool == null ? 0 : pool.held.get();
    }

    /** Spare permits this replica holds for {@code key} (tests). */
    int spare(String key) {
        PermitPool pool = pools.get(key);
        return pool == null ? 0 : pool.spare.get();
    }

    /** Gives every reserve back (spare permits released, unused calls refunded); later permits go straight back. */
    @Override
    public void close() {
        closed = true;
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
        sweep();
    }
}
