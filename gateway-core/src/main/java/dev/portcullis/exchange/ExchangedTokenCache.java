package dev.portcullis.exchange;

import dev.portcullis.Caches;
import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.failure.GatewayFailure;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import reactor.core.publisher.Mono;

/**
 * Tokens issued for upstreams, cached with Caffeine (EXCHANGE-06).
 *
 * <ul>
 *   <li>Keyed by (SHA-256 of the subject token, audience, resource, scope, actor): a token is only
 *       reused for exactly the request it was issued for.</li>
 *   <li>An entry expires {@code safety-margin} before the earlier of the issued token's expiry and
 *       the subject token's expiry, so it never outlives the caller's token.</li>
 *   <li>Single-flight: concurrent requests for one key share one token request.</li>
 *   <li>A failed token request is remembered for {@code negative-cache} per key, so a broken IdP is
 *       not hammered; the same failure is answered meanwhile.</li>
 *   <li>Bounded in size.</li>
 * </ul>
 */
public final class ExchangedTokenCache {

    /**
     * @param subjectSha256 hex SHA-256 of the subject token ("" for the gateway's own tokens)
     * @param audience      requested {@code audience} or ""
     * @param resource      requested {@code resource} or ""
     * @param scope         requested scope string (sorted, space-separated) or ""
     * @param actor         who acts: the actor token's client id, or ""
     */
    public record Key(String subjectSha256, String audience, String resource, String scope, String actor) {
        @Override
        public String toString() {
            return "Key[subject=sha256:" + (subjectSha256.length() > 12 ? subjectSha256.substring(0, 12) : subjectSha256)
                    + ", audience=" + audience + ", resource=" + resource + ", scope=" + scope + ", actor=" + actor + "]";
        }
    }

    /** A cached result: a token usable until {@code notAfter}, or a failure. */
    private record Outcome(IssuedToken token, Instant notAfter, GatewayFailure failure) {}

    /** No entry is kept longer than this, whatever the IdP says. */
    private static final Duration LONGEST = Duration.ofDays(1);

    private final AsyncCache<Key, Outcome> cache;
    private final Duration safetyMargin;
    private final Duration negativeTtl;
    private final Clock clock;

    /**
     * @param clock  wall-clock time, compared with token expiries
     * @param ticker the cache's time source; tests pass one that moves with {@code clock}
     */
    public ExchangedTokenCache(long maximumSize, Duration safetyMargin, Duration negativeTtl, Clock clock, Ticker ticker) {
        this.safetyMargin = safetyMargin;
        this.negativeTtl = negativeTtl;
        this.clock = clock;
        this.cache = Caches.onCallingThread()
                .maximumSize(maximumSize)
                .ticker(ticker)
                .expireAfter(new Expiry<Key, Outcome>() {
                    @Override
                    public long expireAfterCreate(Key key, Outcome outcome, long currentTime) {
                        return lifetimeNanos(outcome);
                    }

                    @Override
                    public long expireAfterUpdate(Key key, Outcome outcome, long currentTime, long currentDuration) {
                        return lifetimeNanos(outcome);
                    }

                    @Override
                    public long expireAfterRead(Key key, Outcome outcome, long currentTime, long currentDuration) {
                        return currentDuration;
                    }
                })
                .buildAsync();
    }

    /**
     * The cached token for {@code key}, or the result of {@code fetch} (one fetch per key at a time).
     *
     * @param notAfter the token may not be used after this instant (the subject token's {@code exp}),
     *                 {@link Instant#MAX} when there is no subject
     * @param fetch    requests a new token; its {@link GatewayFailure}s are cached negatively
     */
    public Mono<IssuedToken> get(Key key, Instant notAfter, Supplier<Mono<IssuedToken>> fetch) {
        return Mono.defer(() -> {
            // The common case, a token already in the cache, is answered without a future's callback.
            CompletableFuture<Outcome> present = cache.getIfPresent(key);
            if (present != null && present.isDone() && !present.isCompletedExceptionally()) {
                return answer(present.join(), false);
            }
            boolean[] fetched = {false};
            return Mono.fromFuture(() -> cache.get(key, (k, executor) -> {
                        fetched[0] = true;
                        return fetch.get()
                                .map(token -> new Outcome(token, notAfter, null))
                                .onErrorResume(GatewayFailure.class, failure -> Mono.just(new Outcome(null, notAfter, failure)))
                                .toFuture();
                    }), true)
                    .flatMap(outcome -> answer(outcome, fetched[0]));
        });
    }

    /**
     * The cached token for {@code key} when one is there now (counted as a hit), null when it must be
     * fetched (or a fetch is under way); throws the remembered failure of a recent failed fetch.
     */
    public IssuedToken cachedOrNull(Key key) {
        CompletableFuture<Outcome> present = cache.getIfPresent(key);
        if (present == null || !present.isDone() || present.isCompletedExceptionally()) {
            return null;
        }
        Outcome outcome = present.join();
        boolean failed = outcome.failure() != null;
        count(failed ? "negative_hit" : "hit");
        if (failed) {
            throw outcome.failure();
        }
        return outcome.token();
    }

    /** Counts the lookup and turns the cached outcome into the token or its remembered failure. */
    private Mono<IssuedToken> answer(Outcome outcome, boolean fetched) {
        boolean failed = outcome.failure() != null;
        count(fetched ? (failed ? "failure" : "miss") : (failed ? "negative_hit" : "hit"));
        return failed ? Mono.error(outcome.failure()) : Mono.just(outcome.token());
    }

    /** Counters by outcome, registered once in {@link #countInto}; none until then. */
    private java.util.Map<String, io.micrometer.core.instrument.Counter> counters = java.util.Map.of();

    /**
     * Counts lookups into {@code portcullis_exchange_cache_total{route,mode,outcome}}: {@code hit},
     * {@code miss} (a token was requested), {@code failure} (the request failed), {@code negative_hit}
     * (a recent failure answered from memory).
     */
    void countInto(io.micrometer.core.instrument.MeterRegistry metrics, String route, String mode) {
        java.util.Map<String, io.micrometer.core.instrument.Counter> byOutcome = new java.util.HashMap<>();
        for (String outcome : java.util.List.of("hit", "miss", "failure", "negative_hit")) {
            byOutcome.put(outcome, io.micrometer.core.instrument.Counter.builder("portcullis.exchange.cache")
                    .description("Upstream token cache lookups by outcome").tag("route", route).tag("mode", mode)
                    .tag("outcome", outcome).register(metrics));
        }
        this.counters = java.util.Map.copyOf(byOutcome);
    }

    private void count(String outcome) {
        io.micrometer.core.instrument.Counter counter = counters.get(outcome);
        if (counter != null) {
            counter.increment();
        }
    }

    /** Drops the entry for {@code key} if it holds {@code rejectedToken} (the upstream refused it). */
    public void invalidate(Key key, String rejectedToken) {
        CompletableFuture<Outcome> current = cache.getIfPresent(key);
        if (current != null && current.isDone() && !current.isCompletedExceptionally()) {
            IssuedToken token = current.join().token();
            if (token != null && token.value().equals(rejectedToken)) {
                cache.asMap().remove(key, current);
            }
        }
    }

    private long lifetimeNanos(Outcome outcome) {
        if (outcome.failure() != null) {
            return negativeTtl.toNanos();
        }
        Instant until = outcome.token().expiresAt().isBefore(outcome.notAfter()) ? outcome.token().expiresAt() : outcome.notAfter();
        Duration left = Duration.between(clock.instant(), until.minus(safetyMargin));
        return left.isNegative() ? 0 : left.compareTo(LONGEST) > 0 ? LONGEST.toNanos() : left.toNanos();
    }
}
