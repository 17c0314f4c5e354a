package dev.portcullis.forward;

import java.time.Duration;
import java.time.Instant;

/**
 * {@code token-lifetime-end}: a stream lives no longer than the caller's token that authorised it
 * (TRANSPORT-08, V26-21); the gateway then ends it cleanly, and the client reconnects with a fresh token,
 * checked like any request.
 */
final class TokenLifetimeEnd implements ReplyTransform {
    private final Instant acceptedUntil;

    TokenLifetimeEnd(Instant acceptedUntil) {
        this.acceptedUntil = acceptedUntil;
    }

    @Override
    public String name() {
        return "token-lifetime-end";
    }

    /** Nanoseconds from {@code now} until the stream ends (0: at once). */
    long nanosLeft(Instant now) {
        return Math.max(0, Duration.between(now, acceptedUntil).toNanos());
    }

    @Override
    public boolean needsEvents() {
        return false;
    }
}
