package dev.portcullis;

import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

/** A wall clock and a Caffeine ticker that move together, only when told to (tests of caches and time windows). */
public final class FakeTime extends Clock implements Ticker {
    private final Instant start;
    private final AtomicLong nanos = new AtomicLong();

    public FakeTime() {
        this(Instant.parse("2026-01-01T00:00:00Z"));
    }

    public FakeTime(Instant start) {
        this.start = start;
    }

    public void advance(Duration by) {
        nanos.addAndGet(by.toNanos());
    }

    @Override
    public long read() {
        return nanos.get();
    }

    @Override
    public Instant instant() {
        return start.plusNanos(nanos.get());
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        return this;
    }
}
