package dev.portcullis;

import com.github.benmanes.caffeine.cache.Caffeine;

/**
 * How the request path's caches are built. Caffeine does its upkeep (draining the read and write buffers,
 * expiry, eviction) on an executor, by default {@code ForkJoinPool.commonPool()}: a cache read on every
 * request then hands a task to another thread every few reads — a futex wake-up from the event loop and a
 * context switch on the gateway's CPU each time (the profile of issue 13 showed the pool's thread at ~4% of the
 * CPU, plus the wake-ups on the loop). The upkeep is short, non-blocking work bounded by the buffers' size, so it
 * runs on the thread that triggered it instead.
 *
 * <p>Only for caches whose removal listeners and loaders (if any) are non-blocking: a loading cache whose
 * loader waits must keep an executor of its own.
 */
public final class Caches {
    private Caches() {}

    /** A Caffeine builder whose upkeep runs on the calling thread. */
    public static Caffeine<Object, Object> onCallingThread() {
        return Caffeine.newBuilder().executor(Runnable::run);
    }
}
