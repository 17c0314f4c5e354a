package dev.portcullis.bench.jmh;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.function.Supplier;

/** One turn of a CPU-time runner ({@link DpopCpuTime}, {@link IntrospectionCpuTime}): the measuring thread's own CPU. */
final class ThreadCpu {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private ThreadCpu() {}

    /** Runs {@code op} for {@code seconds}; returns {operations, CPU nanoseconds of this thread}. */
    static long[] run(Supplier<Object> op, double seconds) {
        long cpu0 = THREADS.getCurrentThreadCpuTime();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long n = 0;
        while (System.nanoTime() < end) {
            if (op.get() == null) {
                throw new IllegalStateException("no result");
            }
            n++;
        }
        return new long[] {n, THREADS.getCurrentThreadCpuTime() - cpu0};
    }
}
