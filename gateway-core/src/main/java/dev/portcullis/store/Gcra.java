package dev.portcullis.store;

/**
 * The generic cell rate algorithm, as {@link MemoryStore} runs it and {@link RedisStore}'s script runs it in
 * Redis: a bucket is one number, its theoretical arrival time (TAT). A call at {@code now} is allowed when
 * {@code max(tat, now) + interval - period <= now}; it moves the TAT to {@code max(tat, now) + interval}.
 * So {@code period / interval} calls pass at once, then one per {@code interval}. Times in microseconds.
 *
 * <p>A result is one {@code long}: {@code >= 0} allowed, the value being how long until the bucket is full
 * again ({@code new tat - now}); {@code < 0} refused, {@code -(wait) - 1} where {@code wait} is how long
 * until the call would pass. No object is built per call.
 */
public final class Gcra {
    private Gcra() {}

    /** The result of a call at {@code now} against a bucket whose TAT is {@code tat} (0: never used). */
    public static long decide(long tat, long now, long intervalMicros, long periodMicros) {
        long next = Math.max(tat, now) + intervalMicros;
        long allowAt = next - periodMicros;
        return now < allowAt ? -(allowAt - now) - 1 : next - now;
    }

    /** The TAT after an allowed call (only when {@link #decide} allowed it). */
    public static long nextTat(long tat, long now, long intervalMicros) {
        return Math.max(tat, now) + intervalMicros;
    }

    public static boolean allowed(long result) {
        return result >= 0;
    }

    /** For a refused result: microseconds until a call would pass. */
    public static long retryAfterMicros(long result) {
        return -(result + 1);
    }

    /** For an allowed result: calls left now (the bucket's free room in whole calls). */
    public static long remaining(long result, long intervalMicros, long periodMicros) {
        return Math.max(0, (periodMicros - result) / intervalMicros);
    }

    /** Whole seconds, rounded up, at least 1: for {@code Retry-After} and the headers' {@code t}. */
    public static long seconds(long micros) {
        return Math.max(1, (micros + 999_999) / 1_000_000);
    }
}
