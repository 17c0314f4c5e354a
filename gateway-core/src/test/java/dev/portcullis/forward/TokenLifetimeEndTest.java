package dev.portcullis.forward;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The {@code token-lifetime-end} step alone (TRANSPORT-08, V26-21). No sockets. */
class TokenLifetimeEndTest {
    private final Instant now = Instant.parse("2026-12-05T17:00:00Z");

    @Test
    void transport08AStreamEndsWhenTheCallersTokenDoes() {
        TokenLifetimeEnd step = new TokenLifetimeEnd(now.plusSeconds(90));
        assertThat(step.nanosLeft(now)).isEqualTo(Duration.ofSeconds(90).toNanos());
        assertThat(step.nanosLeft(now.plusSeconds(90))).isZero();
        assertThat(step.nanosLeft(now.plusSeconds(3600))).as("already expired: at once").isZero();
    }

    @Test
    void itNeedsNoFramingAndChangesNoByte() {
        TokenLifetimeEnd step = new TokenLifetimeEnd(now);
        assertThat(step.needsEvents()).isFalse();
        byte[] event = SseEvents.event("{}");
        assertThat(step.event(event)).isSameAs(event);
    }
}
