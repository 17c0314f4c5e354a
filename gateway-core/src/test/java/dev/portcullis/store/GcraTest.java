package dev.portcullis.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Issue 18: the GCRA arithmetic, the in-process store and the circuit breaker. No sockets. */
class GcraTest {
    private static final long SECOND = 1_000_000;

    @Test
    void aBucketOfNPassesNAtOnceThenOnePerInterval() {
        long interval = 3 * SECOND; // 20/min
        long period = 60 * SECOND;
        long tat = 0;
        long now = 1_000 * SECOND;
        for (int i = 0; i < 20; i++) {
            long result = Gcra.decide(tat, now, interval, period);
            assertThat(Gcra.allowed(result)).as("call %d", i).isTrue();
            assertThat(Gcra.remaining(result, interval, period)).isEqualTo(19 - i);
            tat = Gcra.nextTat(tat, now, interval);
        }
        long refused = Gcra.decide(tat, now, interval, period);
        assertThat(Gcra.allowed(refused)).isFalse();
        assertThat(Gcra.retryAfterMicros(refused)).isEqualTo(interval);
        assertThat(Gcra.seconds(Gcra.retryAfterMicros(refused))).isEqualTo(3);
        // One interval later exactly one more passes.
        assertThat(Gcra.allowed(Gcra.decide(tat, now + interval, interval, period))).isTrue();
        assertThat(Gcra.allowed(Gcra.decide(tat, now + interval - 1, interval, period))).isFalse();
        // A bucket left alone refills completely, never beyond.
        long later = now + 10 * period;
        long full = Gcra.decide(tat, later, interval, period);
        assertThat(Gcra.remaining(full, interval, period)).isEqualTo(19);
    }

    @Test
    void refusedCallsConsumeNothing() {
        long interval = SECOND;
        long tat = 0;
        long now = 500 * SECOND;
        tat = Gcra.nextTat(tat, now, interval);
        long refused = Gcra.decide(tat, now, interval, SECOND); // a bucket of 1, just used
        assertThat(Gcra.allowed(refused)).isFalse();
        // Deciding does not move the TAT: a caller hammering a full bucket does not push its own retry out.
        assertThat(Gcra.decide(tat, now, interval, SECOND)).isEqualTo(refused);
    }

    @Test
    void secondsRoundUpAndAreAtLeastOne() {
        assertThat(Gcra.seconds(1)).isEqualTo(1);
        assertThat(Gcra.seconds(SECOND)).isEqualTo(1);
        assertThat(Gcra.seconds(SECOND + 1)).isEqualTo(2);
    }

    @Test
    void theMemoryStoreNeverOverAdmitsUnderContention() throws Exception {
        MemoryStore store = new MemoryStore();
        AtomicInteger allowed = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            Thread thread = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < 1_000; i++) {
                    if (Gcra.allowed(store.takeNow("k", 600 * SECOND / 100, 600 * SECOND))) {
                        allowed.incrementAndGet();
                    }
                }
            });
            thread.start();
            threads.add(thread);
        }
        go.countDown();
        for (Thread thread : threads) {
            thread.join(10_000);
        }
        assertThat(allowed.get()).isEqualTo(100);
    }

    @Test
    void memoryPermitsCountUpAndBackToZero() {
        MemoryStore store = new MemoryStore();
        assertThat(store.acquireNow("k", 2)).isTrue();
        assertThat(store.acquireNow("k", 2)).isTrue();
        assertThat(store.acquireNow("k", 2)).isFalse();
        assertThat(store.held("k")).isEqualTo(2);
        store.releaseNow("k");
        store.releaseNow("k");
        assertThat(store.held("k")).isZero();
        assertThat(store.heldTotal()).isZero();
        store.releaseNow("k"); // nothing held: stays at zero, never negative
        assertThat(store.acquireNow("k", 1)).isTrue();
        assertThat(store.held("k")).isEqualTo(1);
    }

    @Test
    void memoryPutIfAbsentHoldsForItsTtl() throws Exception {
        MemoryStore store = new MemoryStore();
        assertThat(store.putIfAbsent("a", "1", java.time.Duration.ofMillis(100)).get()).isTrue();
        assertThat(store.putIfAbsent("a", "2", java.time.Duration.ofMillis(100)).get()).isFalse();
        Thread.sleep(200);
        assertThat(store.putIfAbsent("a", "2", java.time.Duration.ofMillis(100)).get()).isTrue();
    }

    @Test
    void theBreakerOpensAfterFailuresProbesOnceAndClosesOnSuccess() {
        long[] now = {0};
        Breaker breaker = new Breaker(3, 1_000, () -> now[0]);
        assertThat(breaker.allow()).isTrue();
        assertThat(breaker.failure()).isFalse();
        assertThat(breaker.failure()).isFalse();
        assertThat(breaker.failure()).as("third failure opens").isTrue();
        assertThat(breaker.allow()).as("open: skipped").isFalse();
        now[0] = 1_000;
        assertThat(breaker.allow()).as("the one probe").isTrue();
        assertThat(breaker.allow()).as("only one probe at a time").isFalse();
        breaker.failure();
        assertThat(breaker.allow()).as("a failed probe keeps it open").isFalse();
        now[0] = 2_000;
        assertThat(breaker.allow()).isTrue();
        assertThat(breaker.success()).as("closed again").isTrue();
        assertThat(breaker.closed()).isTrue();
        assertThat(breaker.allow()).isTrue();
    }

    /** Issue 18: {@link MemoryStore#checkNow}, every limit of a call at once, all or nothing. */
    @Test
    void aBatchCheckCountsEverythingOrNothing() {
        MemoryStore store = new MemoryStore();
        long interval = 30 * SECOND; // 2/min
        List<ClusterStore.Take> rates = List.of(new ClusterStore.Take("a", interval, 2 * interval),
                new ClusterStore.Take("b", interval, 4 * interval));
        List<ClusterStore.Acquire> permits = List.of(new ClusterStore.Acquire("p", 5, "", java.time.Duration.ofMinutes(1)),
                new ClusterStore.Acquire("q", 1, "", java.time.Duration.ofMinutes(1)));
        long[] first = store.checkNow(rates, permits);
        assertThat(first[0]).as("all passed").isZero();
        assertThat(Gcra.remaining(first[1], interval, 2 * interval)).isEqualTo(1);
        assertThat(Gcra.remaining(first[2], interval, 4 * interval)).isEqualTo(3);
        assertThat(first[3]).isEqualTo(1);
        assertThat(first[4]).isEqualTo(1);
        // q (1 permit) is held: the next check is refused at q (position 4) and counts nothing.
        long[] second = store.checkNow(rates, permits);
        assertThat(second[0]).isEqualTo(4);
        assertThat(Gcra.remaining(second[1], interval, 2 * interval)).as("a, without this call").isEqualTo(1);
        assertThat(store.held("p")).isEqualTo(1);
        assertThat(store.held("q")).isEqualTo(1);
        store.releaseNow("q");
        // a still has its second call; b has three. A rate refusal (a, now empty) gives back nothing else either.
        assertThat(store.checkNow(rates, permits)[0]).isZero();
        store.releaseNow("q");
        long[] fourth = store.checkNow(rates, permits);
        assertThat(fourth[0]).as("refused at a").isEqualTo(1);
        assertThat(Gcra.retryAfterMicros(fourth[1])).isBetween(interval - SECOND, interval);
        assertThat(store.held("p")).isEqualTo(2);
        long[] onlyB = store.checkNow(List.of(rates.get(1)), List.of());
        assertThat(Gcra.remaining(onlyB[1], interval, 4 * interval)).as("b counted twice, not three times").isEqualTo(1);
    }
}
