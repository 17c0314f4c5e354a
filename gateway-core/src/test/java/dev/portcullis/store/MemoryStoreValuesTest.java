package dev.portcullis.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Issue 17: the value operations approvals use (get, compare-and-set, atomic take) on the in-process store. */
class MemoryStoreValuesTest {
    private final MemoryStore store = new MemoryStore();

    @Test
    void getSeesWhatWasPutAndNothingElse() {
        assertThat(store.get("a").join()).isEmpty();
        assertThat(store.putIfAbsent("a", "1", Duration.ofMinutes(1)).join()).isTrue();
        assertThat(store.get("a").join()).contains("1");
    }

    @Test
    void replaceIsACompareAndSet() {
        store.putIfAbsent("a", "pending", Duration.ofMinutes(1)).join();
        assertThat(store.replace("a", "other", "approved", Duration.ofMinutes(1)).join()).isFalse();
        assertThat(store.get("a").join()).contains("pending");
        assertThat(store.replace("a", "pending", "approved", Duration.ofMinutes(1)).join()).isTrue();
        assertThat(store.get("a").join()).contains("approved");
        assertThat(store.replace("a", "pending", "again", Duration.ofMinutes(1)).join()).as("the old value no longer holds")
                .isFalse();
        assertThat(store.replace("absent", "x", "y", Duration.ofMinutes(1)).join()).as("nothing to replace").isFalse();
        assertThat(store.get("absent").join()).isEmpty();
    }

    @Test
    void replaceSetsTheNewExpiry() throws InterruptedException {
        store.putIfAbsent("a", "1", Duration.ofMinutes(5)).join();
        store.replace("a", "1", "2", Duration.ofMillis(50)).join();
        Thread.sleep(150);
        assertThat(store.get("a").join()).isEmpty();
    }

    @Test
    void entriesExpire() throws InterruptedException {
        store.putIfAbsent("a", "1", Duration.ofMillis(50)).join();
        Thread.sleep(150);
        assertThat(store.get("a").join()).isEmpty();
        assertThat(store.take("a").join()).isEmpty();
    }

    @Test
    void takeGivesTheValueToExactlyOneOfManyTakers() throws Exception {
        store.putIfAbsent("grant", "approval-1", Duration.ofMinutes(1)).join();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            CountDownLatch start = new CountDownLatch(1);
            AtomicInteger got = new AtomicInteger();
            for (int i = 0; i < 8; i++) {
                pool.submit(() -> {
                    start.await();
                    Optional<String> taken = store.take("grant").join();
                    if (taken.isPresent()) {
                        got.incrementAndGet();
                    }
                    return null;
                });
            }
            start.countDown();
            pool.shutdown();
            assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            assertThat(got.get()).isEqualTo(1);
            assertThat(store.get("grant").join()).isEmpty();
        } finally {
            pool.shutdownNow();
        }
    }
}
