package dev.portcullis.policy;

import java.time.Duration;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One limit of a policy file (issue 18): a rate ({@code 20/min}, {@code 1000/day}, {@code 100/10s}) or a
 * number of concurrent calls ({@code 2 concurrent}), counted per combination of {@link Key}s
 * ({@code per subject+agent}); without {@code per}, one counter for the whole route.
 *
 * <p>A rate of {@code N/period} is a GCRA (token bucket) of {@code N} calls that refills one call every
 * {@code period/N}: up to {@code N} at once, then one per {@code period/N}.
 *
 * @param id     where it stands in the file: {@code <rule id>#<index>}, e.g. {@code tools."write_*"#0},
 *               or {@code limits.default#0}; the metric label, audit rule and header policy name
 * @param kind   a rate or a concurrency cap
 * @param count  calls per period (rate), or calls at once (concurrent); at least 1
 * @param period the rate's period; {@link Duration#ZERO} for a concurrency cap
 * @param keys   what the counter is kept per (empty: one counter for the route)
 * @param text   the text as written, for {@code check}/{@code explain} and messages
 */
public record Limit(String id, Kind kind, long count, Duration period, Set<Key> keys, String text) {
    /** The longest period a rate may have. */
    public static final Duration MAX_PERIOD = Duration.ofDays(1);
    public static final long MAX_COUNT = 1_000_000_000L;

    /** What the limit expects, for load errors. */
    public static final String EXPECTED = "a limit such as 20/min, 1000/day, 100/10s or 2 concurrent, optionally "
            + "followed by per and keys joined by + from subject, agent, tool, route, issuer (e.g. 20/min per subject+agent)";

    private static final Pattern RATE = Pattern.compile(
            "([0-9]{1,10})\\s*/\\s*([0-9]{1,5})?\\s*(s|sec|second|min|minute|h|hour|d|day)(?:\\s+per\\s+(.+))?");
    private static final Pattern CONCURRENT = Pattern.compile("([0-9]{1,10})\\s+concurrent(?:\\s+per\\s+(.+))?");

    public enum Kind { RATE, CONCURRENT }

    /** What a counter can be kept per: all values come from the validated token or the parsed message. */
    public enum Key {
        /** The token's {@code sub}. */
        SUBJECT,
        /** The OAuth client acting for the subject ({@code client_id}/{@code azp}). */
        AGENT,
        /** The tool, prompt or resource the message names ({@code params.name}/{@code uri}), else its method. */
        TOOL,
        /** The route (every key includes the route; naming it alone means one counter for the route). */
        ROUTE,
        /** The token's {@code iss}. */
        ISSUER;

        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public Limit {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(period, "period");
        keys = keys.isEmpty() ? Collections.unmodifiableSet(EnumSet.noneOf(Key.class))
                : Collections.unmodifiableSet(EnumSet.copyOf(keys));
        if (count < 1 || count > MAX_COUNT) {
            throw new IllegalArgumentException("count out of range");
        }
    }

    /**
     * Parses a limit's text.
     *
     * @throws IllegalArgumentException with what is wrong (the caller adds file, line and field)
     */
    public static Limit parse(String id, String text) {
        String t = text.strip();
        Matcher rate = RATE.matcher(t);
        if (rate.matches()) {
            long count = count(rate.group(1));
            long multiple = rate.group(2) == null ? 1 : Long.parseLong(rate.group(2));
            if (multiple < 1) {
                throw new IllegalArgumentException("a period of 0");
            }
            Duration unit = switch (rate.group(3)) {
                case "s", "sec", "second" -> Duration.ofSeconds(1);
                case "min", "minute" -> Duration.ofMinutes(1);
                case "h", "hour" -> Duration.ofHours(1);
                default -> Duration.ofDays(1);
            };
            Duration period = unit.multipliedBy(multiple);
            if (period.compareTo(MAX_PERIOD) > 0) {
                throw new IllegalArgumentException("a period longer than a day");
            }
            if (period.toNanos() / count < 1_000) {
                throw new IllegalArgumentException("more than one call per microsecond");
            }
            return new Limit(id, Kind.RATE, count, period, keys(rate.group(4)), t);
        }
        Matcher concurrent = CONCURRENT.matcher(t);
        if (concurrent.matches()) {
            return new Limit(id, Kind.CONCURRENT, count(concurrent.group(1)), Duration.ZERO, keys(concurrent.group(2)), t);
        }
        throw new IllegalArgumentException("not a limit");
    }

    private static long count(String digits) {
        long count = Long.parseLong(digits);
        if (count < 1 || count > MAX_COUNT) {
            throw new IllegalArgumentException("a count of " + count + " (expected 1 to " + MAX_COUNT + ")");
        }
        return count;
    }

    private static Set<Key> keys(String text) {
        EnumSet<Key> keys = EnumSet.noneOf(Key.class);
        if (text == null) {
            return keys;
        }
        for (String part : text.split("\\+", -1)) {
            String word = part.strip();
            Key key = null;
            for (Key k : Key.values()) {
                if (k.word().equals(word)) {
                    key = k;
                }
            }
            if (key == null) {
                throw new IllegalArgumentException("unknown key " + Text.quoted(word));
            }
            if (!keys.add(key)) {
                throw new IllegalArgumentException("key " + word + " named twice");
            }
        }
        keys.remove(Key.ROUTE); // every counter is per route already
        return keys;
    }

    /** The time between two calls at the steady rate, in microseconds (rates only). */
    public long intervalMicros() {
        return Math.max(1, period.toNanos() / 1_000 / count);
    }

    /** The period in microseconds: the burst tolerance of the bucket (rates only). */
    public long periodMicros() {
        return intervalMicros() * count;
    }

    /** This limit with its count divided among {@code replicas} (rounded up, at least 1): per-replica fallback. */
    public Limit scaled(int replicas) {
        if (replicas <= 1) {
            return this;
        }
        long each = Math.max(1, (count + replicas - 1) / replicas);
        return new Limit(id, kind, each, period, keys, text);
    }

    /** {@code 20/min per subject+agent}, as {@code check} and {@code explain} print it. */
    public String describe() {
        StringBuilder out = new StringBuilder(text);
        if (keys.isEmpty() && !text.contains(" per ")) {
            out.append(" (one counter for the route)");
        }
        return out.toString();
    }
}
