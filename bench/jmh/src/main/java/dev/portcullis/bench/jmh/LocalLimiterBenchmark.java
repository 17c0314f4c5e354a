package dev.portcullis.bench.jmh;

import dev.portcullis.store.MemoryStore;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Issue 18: the in-process limiter's hot path (target: at most 1 µs per request, allocation-free once the
 * bucket exists; run with {@code -prof gc} to see the allocation rate):
 * <ul>
 *   <li>{@code takeOneKey}: one GCRA take on a hot bucket (one cache lookup and a compare-and-set), the
 *       allowed and refused paths alike ({@code rate} 1e9/day: almost always allowed; 1/day: refused);</li>
 *   <li>{@code takeManyKeys}: the same over 10,000 subjects' buckets (cache lookups that miss the CPU cache);</li>
 *   <li>{@code acquireRelease}: a concurrency permit taken and given back.</li>
 * </ul>
 * Not run by the build; the lead runs it on a quiet machine (bench/README.md).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Benchmark)
public class LocalLimiterBenchmark {
    @Param({"1000000000", "1"})
    long perDay;

    private MemoryStore store;
    private String[] keys;
    private long interval;
    private long period;

    @Setup
    public void setUp() {
        store = new MemoryStore();
        period = 86_400_000_000L;
        interval = Math.max(1, period / perDay);
        period = interval * perDay;
        keys = new String[10_000];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = "2:r11:tools.x#0" + "8:subject" + i;
            store.takeNow(keys[i], interval, period);
        }
    }

    @State(Scope.Thread)
    public static class Cursor {
        int next;
    }

    @Benchmark
    @Threads(1)
    public long takeOneKey() {
        return store.takeNow(keys[0], interval, period);
    }

    @Benchmark
    @Threads(1)
    public long takeManyKeys(Cursor cursor) {
        int i = cursor.next;
        cursor.next = i + 1 == keys.length ? 0 : i + 1;
        return store.takeNow(keys[i], interval, period);
    }

    @Benchmark
    @Threads(1)
    public boolean acquireRelease() {
        boolean taken = store.acquireNow(keys[1], 1_000);
        store.releaseNow(keys[1]);
        return taken;
    }
}
