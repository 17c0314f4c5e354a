package dev.portcullis.authn;

import dev.portcullis.Step;
import java.time.Duration;

/**
 * Remembers what was seen, for a while: the {@code jti} of each accepted DPoP proof (RFC 9449 §11.1), so the
 * same proof is never accepted twice within the window in which it would be accepted at all.
 *
 * <p>One operation, set-if-absent with a time to live: a shared store with that operation (issue 18's
 * {@code dev.portcullis.store}) adapts in one line, and then a proof replayed against another replica is
 * refused too. {@link InMemoryReplayGuard} is the one-process version.
 */
@FunctionalInterface
public interface ReplayGuard {
    /**
     * Records {@code key} for {@code ttl} unless it is recorded already.
     *
     * @return true when {@code key} was not recorded (its first use), false when it was (a replay); the answer
     *         now for an in-memory guard, later for a store over the network. Never blocks the caller.
     * @throws dev.portcullis.failure.GatewayFailure {@link dev.portcullis.failure.Reason#REPLAY_CHECK_UNAVAILABLE}
     *         (or a future failed with it) when the guard cannot answer: full, or its store unreachable. A proof
     *         is never accepted unchecked.
     */
    Step<Boolean> firstUse(String key, Duration ttl);
}
