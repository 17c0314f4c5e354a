package dev.portcullis.exchange;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.config.UpstreamAuthConfig;
import dev.portcullis.http.OutboundHttp;
import java.net.URI;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import reactor.core.publisher.Mono;

/**
 * Stage 6: the credential the upstream receives for one request. The caller's own token is
 * never an option (EXCHANGE-01, PROXY-01): implementations return a token minted for the
 * upstream, the gateway's own credential, or nothing.
 */
@FunctionalInterface
public interface UpstreamCredentials {

    /** Cached tokens per route; beyond this the least used are dropped. */
    long MAX_CACHED_TOKENS = 10_000;

    /**
     * The bearer token to send upstream, or empty to send no Authorization header. Fails with a
     * {@link dev.portcullis.failure.GatewayFailure} when no credential can be had (never falls back
     * to the caller's token).
     */
    Mono<Optional<String>> bearerFor(AuthorizedRequest request);

    /**
     * As {@link #bearerFor}, answered at once when the token is cached (the fast path allocates no
     * future); may throw the {@link dev.portcullis.failure.GatewayFailure} a cached failure remembers.
     */
    default dev.portcullis.Step<Optional<String>> bearerNow(AuthorizedRequest request) {
        return dev.portcullis.Step.later(bearerFor(request).toFuture());
    }

    /**
     * The upstream refused {@code rejectedBearer} (401): forget it, so the next
     * {@link #bearerFor} asks the IdP again (CHALLENGE-07). Does nothing if it is no longer cached.
     */
    default void invalidate(AuthorizedRequest request, String rejectedBearer) {
    }

    /** Route mode {@code none}: the upstream receives no credentials. */
    static UpstreamCredentials none() {
        return new UpstreamCredentials() {
            private final dev.portcullis.Step<Optional<String>> nothing = dev.portcullis.Step.now(Optional.empty());

            @Override
            public Mono<Optional<String>> bearerFor(AuthorizedRequest request) {
                return Mono.just(Optional.empty());
            }

            @Override
            public dev.portcullis.Step<Optional<String>> bearerNow(AuthorizedRequest request) {
                return nothing;
            }
        };
    }

    /**
     * The credentials a route's {@code upstream-auth} describes.
     *
     * @param http   the client for token endpoint requests
     * @param clock  wall-clock time (token expiries, client assertions)
     * @param ticker the caches' time source
     */
    static UpstreamCredentials forRoute(String route, UpstreamAuthConfig config, OutboundHttp http, ObjectMapper json,
                                        Clock clock, Ticker ticker) {
        return forRoute(route, config, http, json, clock, ticker, new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
    }

    /** As above; {@code metrics} receives {@code portcullis_exchange_cache_total{route,mode,outcome}}. */
    static UpstreamCredentials forRoute(String route, UpstreamAuthConfig config, OutboundHttp http, ObjectMapper json,
                                        Clock clock, Ticker ticker, io.micrometer.core.instrument.MeterRegistry metrics) {
        return forRoute(route, config, null, http, json, clock, ticker, metrics);
    }

    /**
     * As above, for a route whose {@code upstream-auth} has no {@code token-endpoint}: it is taken from
     * {@code issuer}'s discovered metadata (the same discovery as for its JWKS).
     *
     * @param issuer the issuer whose metadata names the token endpoint (see
     *               {@link dev.portcullis.config.GatewayConfig#tokenEndpointIssuer}); null when it is configured
     */
    static UpstreamCredentials forRoute(String route, UpstreamAuthConfig config, dev.portcullis.authn.JwksCache issuer,
                                        OutboundHttp http, ObjectMapper json, Clock clock, Ticker ticker,
                                        io.micrometer.core.instrument.MeterRegistry metrics) {
        if (config.parsedType() == UpstreamAuthConfig.Type.NONE) {
            return none();
        }
        TokenEndpointClient tokenEndpoint;
        if (config.tokenEndpoint() != null) {
            tokenEndpoint = new TokenEndpointClient(URI.create(config.tokenEndpoint()),
                    ClientAuthentication.from(config, clock), http, json, config.timeout(), clock);
        } else if (issuer != null) {
            tokenEndpoint = TokenEndpointClient.discovered(issuer.config().issuer(), issuer::metadata, config, http, json, clock);
        } else {
            throw new IllegalArgumentException("route " + route + ": upstream-auth has no token-endpoint and no issuer to discover it from");
        }
        if (config.parsedType() == UpstreamAuthConfig.Type.CLIENT_CREDENTIALS) {
            return new ClientCredentialsCredentials(route, tokenEndpoint, cache(config, clock, ticker, metrics, route, "client-credentials"),
                    config.audience(), config.resource(), config.scopes());
        }
        ClientCredentialsCredentials actor = config.actorToken()
                ? new ClientCredentialsCredentials(route, tokenEndpoint, cache(config, clock, ticker, metrics, route, "actor"),
                        null, null, List.of())
                : null;
        TokenEndpointClient authorizationServer = config.authorizationServer() == null ? null
                : new TokenEndpointClient(URI.create(config.authorizationServer().tokenEndpoint()),
                        ClientAuthentication.from(config.authorizationServer().asClient(config.timeout()), clock), http, json,
                        config.timeout(), clock);
        return new TokenExchangeCredentials(route, config, tokenEndpoint,
                cache(config, clock, ticker, metrics, route, "token-exchange"), actor, authorizationServer);
    }

    private static ExchangedTokenCache cache(UpstreamAuthConfig config, Clock clock, Ticker ticker,
                                             io.micrometer.core.instrument.MeterRegistry metrics, String route, String mode) {
        ExchangedTokenCache cache = new ExchangedTokenCache(MAX_CACHED_TOKENS, config.safetyMargin(), config.negativeCache(),
                clock, ticker);
        cache.countInto(metrics, route, mode);
        return cache;
    }
}
