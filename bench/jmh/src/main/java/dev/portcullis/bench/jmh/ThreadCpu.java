package dev.portcullis.bench.jmh;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.function.Supplier;

/**
 * The CPU-time runners ({@link DpopCpuTime}, {@link IntrospectionCpuTime}, {@link EcProviderCpuTime}): operations
 * measured by the measuring thread's own CPU time (a shared machine inflates JMH's wall time), in turns (A B C A B C
 * ...) after a warm-up, so a burst of load hits all of them alike.
 */
final class ThreadCpu {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private ThreadCpu() {}

    /** The sums over the turns, per operation: how many ran, this thread's CPU nanoseconds, wall nanoseconds. */
    record Totals(long[] count, long[] cpu, long[] wall) {
        double cpuMicrosPerOp(int i) {
            return cpu[i] / 1e3 / count[i];
        }

        double wallMicrosPerOp(int i) {
            return wall[i] / 1e3 / count[i];
        }
    }

    /** Each of {@code ops} for 2 s (warm-up), then {@code turns} turns of {@code seconds} each; {@code afterTurn} runs after every turn. */
    static Totals turns(Supplier<Object>[] ops, double seconds, int turns, Runnable afterTurn) {
        for (Supplier<Object> op : ops) {
            run(op, 2.0);
        }
        afterTurn.run();
        Totals totals = new Totals(new long[ops.length], new long[ops.length], new long[ops.length]);
        for (int t = 0; t < turns; t++) {
            for (int i = 0; i < ops.length; i++) {
                long[] r = run(ops[i], seconds);
                totals.count[i] += r[0];
                totals.cpu[i] += r[1];
                totals.wall[i] += r[2];
            }
            afterTurn.run();
        }
        return totals;
    }

    /** Runs {@code op} for {@code seconds}; returns {operations, CPU nanoseconds of this thread, wall nanoseconds}. */
    static long[] run(Supplier<Object> op, double seconds) {
        long cpu0 = THREADS.getCurrentThreadCpuTime();
        long wall0 = System.nanoTime();
        long end = wall0 + (long) (seconds * 1e9);
        long n = 0;
        while (System.nanoTime() < end) {
            if (op.get() == null) {
                throw new IllegalStateException("no result");
            }
            n++;
        }
        return new long[] {n, THREADS.getCurrentThreadCpuTime() - cpu0, System.nanoTime() - wall0};
    }
}
