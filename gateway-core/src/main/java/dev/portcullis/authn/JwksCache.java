package dev.portcullis.authn;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Ticker;
import com.nimbusds.jose.jwk.JWKSet;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.http.OutboundHttp;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * One issuer's signing keys, fetched asynchronously and cached with Caffeine.
 *
 * <ul>
 *   <li>Refreshed in the background {@code jwks-refresh} after the last fetch; requests keep using
 *       the cached keys meanwhile. A failed refresh keeps the last good set (the IdP may be down).</li>
 *   <li>An unknown {@code kid} forces a re-fetch at most once per {@code jwks-min-refresh-interval}
 *       (SECURITY-04), and concurrent callers share that one fetch (single-flight).</li>
 *   <li>The JWKS URL is the configured one or, when absent, discovered from the issuer's metadata.</li>
 *   <li>Keys are never taken from a token ({@code jku}, {@code x5u}, {@code jwk}: AUTHN-05).</li>
 * </ul>
 */
public final class JwksCache {
    private static final Logger log = LoggerFactory.getLogger(JwksCache.class);

    private final IssuerConfig config;
    private final OutboundHttp http;
    private final ObjectMapper json;
    private final Ticker ticker;
    private final AsyncLoadingCache<String, JWKSet> cache;
    private final AtomicLong lastForcedRefreshNanos;
    private volatile URI jwksUri;
    private final java.util.concurrent.atomic.AtomicReference<CompletableFuture<IssuerMetadata>> metadata =
            new java.util.concurrent.atomic.AtomicReference<>();

    private final MeterRegistry metrics;

    public JwksCache(IssuerConfig config, OutboundHttp http, ObjectMapper json, Ticker ticker) {
        this(config, http, json, ticker, new SimpleMeterRegistry());
    }

    /** @param metrics receives {@code portcullis_jwks_fetches_total{issuer,outcome}} */
    public JwksCache(IssuerConfig config, OutboundHttp http, ObjectMapper json, Ticker ticker, MeterRegistry metrics) {
        this.metrics = metrics;
        this.config = config;
        this.http = http;
        this.json = json;
        this.ticker = ticker;
        this.jwksUri = config.jwksUri() == null ? null : URI.create(config.jwksUri());
        this.lastForcedRefreshNanos = new AtomicLong(ticker.read() - config.jwksMinRefreshInterval().toNanos());
        // Upkeep on the calling thread (dev.portcullis.Caches): a never-seen token reads this cache on the event loop
        // (keysNow), and the default executor handed a task to the common pool every few reads (issue 13: the pool's
        // thread at ~1.7% of the CPU of a new token per request, plus the wake-ups). The loader does not block: it
        // returns the fetch's future at once, so a refresh started by a read starts the fetch and returns.
        this.cache = dev.portcullis.Caches.onCallingThread()
                .ticker(ticker)
                .maximumSize(1)
                .refreshAfterWrite(config.jwksRefresh())
                .buildAsync((key, executor) -> fetch().toFuture());
    }

    /** Starts the first fetch without waiting for it. */
    public void preload() {
        cache.get(config.issuer()).whenComplete((keys, error) -> {
            if (error != null) {
                log.warn("issuer {}: signing keys not loaded yet: {}", config.issuer(), error.toString());
            }
        });
    }

    /** The current key set (fetching it if none has been loaded yet). */
    public Mono<JWKSet> keys() {
        return Mono.fromFuture(() -> cache.get(config.issuer()), true);
    }

    /**
     * The current key set when one is loaded, without waiting; null when none is yet (the first fetch has not
     * finished, or failed): the caller then waits on {@link #keys()}. Like {@link #keys()}, a read past
     * {@code jwks-refresh} starts the background refresh and is answered with the cached set meanwhile. Lets a
     * never-seen token whose key is known be checked synchronously (issue 13).
     */
    public JWKSet keysNow() {
        CompletableFuture<JWKSet> current = cache.getIfPresent(config.issuer());
        return current != null && current.isDone() && !current.isCompletedExceptionally() ? current.getNow(null) : null;
    }

    /**
     * The key set after a re-fetch for an unknown {@code kid}, or the current set when the last
     * forced re-fetch was less than the minimum interval ago.
     */
    public Mono<JWKSet> refreshForUnknownKey() {
        long now = ticker.read();
        long last = lastForcedRefreshNanos.get();
        if (now - last < config.jwksMinRefreshInterval().toNanos() || !lastForcedRefreshNanos.compareAndSet(last, now)) {
            return keys();
        }
        log.info("issuer {}: unknown key id, re-fetching signing keys", config.issuer());
        CompletableFuture<JWKSet> refreshed = cache.synchronous().refresh(config.issuer());
        return Mono.fromFuture(refreshed, true).onErrorResume(e -> keys());
    }

    /**
     * The issuer's discovered metadata (for the token endpoint of {@code upstream-auth}): fetched on first use,
     * non-blocking, then kept; a failed discovery is retried by the next caller. Concurrent callers share one
     * discovery.
     */
    public Mono<IssuerMetadata> metadata() {
        CompletableFuture<IssuerMetadata> current = metadata.get();
        if (current == null || current.isCompletedExceptionally()) {
            CompletableFuture<IssuerMetadata> fresh = new CompletableFuture<>();
            if (metadata.compareAndSet(current, fresh)) {
                IssuerMetadata.discover(config.issuer(), config.allowInsecureHttp(), http, json)
                        .subscribe(fresh::complete, e -> {
                            log.warn("issuer {}: metadata discovery failed: {}", config.issuer(), e.toString());
                            fresh.completeExceptionally(e);
                        });
                current = fresh;
            } else {
                current = metadata.get();
            }
        }
        return Mono.fromFuture(current, true);
    }

    /** True once a key set has been loaded (readiness). */
    public boolean loaded() {
        CompletableFuture<JWKSet> current = cache.getIfPresent(config.issuer());
        return current != null && current.isDone() && !current.isCompletedExceptionally();
    }

    public IssuerConfig config() {
        return config;
    }

    private Mono<JWKSet> fetch() {
        Mono<URI> uri = jwksUri != null ? Mono.just(jwksUri)
                : IssuerMetadata.discoverJwksUri(config.issuer(), config.allowInsecureHttp(), http, json).doOnNext(u -> jwksUri = u);
        return uri.flatMap(http::get)
                .map(body -> {
                    try {
                        JWKSet set = JWKSet.parse(new String(body, StandardCharsets.UTF_8)).toPublicJWKSet();
                        log.info("issuer {}: loaded {} signing key(s)", config.issuer(), set.size());
                        counted("success");
                        return set;
                    } catch (java.text.ParseException e) {
                        throw new IllegalStateException("issuer " + config.issuer() + ": JWKS is not a valid JWK set", e);
                    }
                })
                .doOnError(e -> {
                    counted("failure");
                    log.warn("issuer {}: fetching signing keys failed: {}", config.issuer(), e.toString());
                });
    }

    private void counted(String outcome) {
        Counter.builder("portcullis.jwks.fetches").description("JWKS fetches by issuer and outcome")
                .tag("issuer", config.issuer()).tag("outcome", outcome).register(metrics).increment();
    }
}
