package dev.portcullis.exchange;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.FakeTime;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

/** EXCHANGE-06 with a fake clock: lifetimes, subject expiry, single-flight, negative caching, invalidation. */
class ExchangedTokenCacheTest {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final ExchangedTokenCache.Key KEY = new ExchangedTokenCache.Key("ab".repeat(32), "todo", "", "todo:read", "");

    private final FakeTime time = new FakeTime();
    private final AtomicInteger fetches = new AtomicInteger();

    private ExchangedTokenCache cache(Duration safetyMargin) {
        return new ExchangedTokenCache(100, safetyMargin, Duration.ofSeconds(5), time, time);
    }

    /** A fetch that issues "t1", "t2", ... each living {@code lifetime}. */
    private Mono<IssuedToken> issue(Duration lifetime) {
        return Mono.fromSupplier(() -> new IssuedToken("t" + fetches.incrementAndGet(), time.instant().plus(lifetime), ""));
    }

    private String get(ExchangedTokenCache cache, Instant subjectExpiry, Duration lifetime) {
        return cache.get(KEY, subjectExpiry, () -> issue(lifetime)).block(WAIT).value();
    }

    @Test
    void exchange06KeptUntilTheSafetyMarginBeforeTheIssuedTokenExpires() {
        ExchangedTokenCache cache = cache(Duration.ofSeconds(30));
        Instant subjectExpiry = time.instant().plusSeconds(3600);
        assertThat(get(cache, subjectExpiry, Duration.ofSeconds(300))).isEqualTo("t1");
        time.advance(Duration.ofSeconds(269));
        assertThat(get(cache, subjectExpiry, Duration.ofSeconds(300))).isEqualTo("t1");
        time.advance(Duration.ofSeconds(2));
        assertThat(get(cache, subjectExpiry, Duration.ofSeconds(300))).isEqualTo("t2");
        assertThat(fetches).hasValue(2);
    }

    @Test
    void exchange06NeverReusedAfterTheSubjectTokenExpires() {
        ExchangedTokenCache cache = cache(Duration.ZERO);
        Instant subjectExpiry = time.instant().plusSeconds(3);
        // The issued token lives an hour, the caller's token three seconds: the caller's wins.
        assertThat(get(cache, subjectExpiry, Duration.ofHours(1))).isEqualTo("t1");
        time.advance(Duration.ofMillis(2900));
        assertThat(get(cache, subjectExpiry, Duration.ofHours(1))).isEqualTo("t1");
        time.advance(Duration.ofMillis(200));
        assertThat(get(cache, time.instant().plusSeconds(3600), Duration.ofHours(1))).isEqualTo("t2");
    }

    @Test
    void aTokenShorterThanTheMarginIsUsedOnceAndNotKept() {
        ExchangedTokenCache cache = cache(Duration.ofSeconds(30));
        Instant subjectExpiry = time.instant().plusSeconds(3600);
        assertThat(get(cache, subjectExpiry, Duration.ofSeconds(10))).isEqualTo("t1");
        assertThat(get(cache, subjectExpiry, Duration.ofSeconds(10))).isEqualTo("t2");
    }

    @Test
    void singleFlightConcurrentCallersShareOneFetch() {
        ExchangedTokenCache cache = cache(Duration.ofSeconds(30));
        Sinks.One<IssuedToken> answer = Sinks.one();
        List<Mono<IssuedToken>> callers = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            callers.add(cache.get(KEY, Instant.MAX, () -> {
                fetches.incrementAndGet();
                return answer.asMono();
            }));
        }
        var all = Flux.merge(callers).map(IssuedToken::value).collectList().toFuture();
        assertThat(all).isNotDone();
        answer.tryEmitValue(new IssuedToken("shared", time.instant().plusSeconds(300), ""));
        assertThat(all.join()).hasSize(100).containsOnly("shared");
        assertThat(fetches).hasValue(1);
    }

    @Test
    void failuresAreRememberedForTheNegativeCacheTime() {
        ExchangedTokenCache cache = cache(Duration.ofSeconds(30));
        GatewayFailure down = GatewayFailure.of(Reason.EXCHANGE_UNAVAILABLE, "unavailable");
        Mono<IssuedToken> failing = Mono.defer(() -> {
            fetches.incrementAndGet();
            return Mono.error(down);
        });
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> cache.get(KEY, Instant.MAX, () -> failing).block(WAIT)).isSameAs(down);
        }
        assertThat(fetches).hasValue(1);
        time.advance(Duration.ofSeconds(6));
        assertThat(get(cache, Instant.MAX, Duration.ofSeconds(300))).isEqualTo("t2");
    }

    @Test
    void unexpectedErrorsAreNotCached() {
        ExchangedTokenCache cache = cache(Duration.ofSeconds(30));
        assertThatThrownBy(() -> cache.get(KEY, Instant.MAX, () -> Mono.error(new IllegalStateException("bug"))).block(WAIT))
                .hasMessageContaining("bug");
        assertThat(get(cache, Instant.MAX, Duration.ofSeconds(300))).isEqualTo("t1");
    }

    @Test
    void invalidateDropsOnlyTheRejectedToken() {
        ExchangedTokenCache cache = cache(Duration.ofSeconds(30));
        assertThat(get(cache, Instant.MAX, Duration.ofSeconds(300))).isEqualTo("t1");
        cache.invalidate(KEY, "some-other-token");
        assertThat(get(cache, Instant.MAX, Duration.ofSeconds(300))).isEqualTo("t1");
        cache.invalidate(KEY, "t1");
        assertThat(get(cache, Instant.MAX, Duration.ofSeconds(300))).isEqualTo("t2");
    }

    @Test
    void keysSeparateSubjectsScopesAndActors() {
        ExchangedTokenCache cache = cache(Duration.ofSeconds(30));
        var other = List.of(new ExchangedTokenCache.Key("cd".repeat(32), "todo", "", "todo:read", ""),
                new ExchangedTokenCache.Key("ab".repeat(32), "todo", "", "todo:write", ""),
                new ExchangedTokenCache.Key("ab".repeat(32), "todo", "", "todo:read", "portcullis"));
        get(cache, Instant.MAX, Duration.ofSeconds(300));
        for (var key : other) {
            cache.get(key, Instant.MAX, () -> issue(Duration.ofSeconds(300))).block(WAIT);
        }
        assertThat(fetches).hasValue(4);
        assertThat(KEY.toString()).doesNotContain("ab".repeat(32));
    }
}
