package dev.portcullis.exchange;

import dev.portcullis.authz.AuthorizedRequest;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * Route mode {@code client-credentials}: the upstream receives the gateway's own token (RFC 6749
 * §4.4), the same for every caller; who the caller is stays with policy and audit (EXCHANGE-10).
 * Also the source of the {@code actor_token} in token exchange.
 *
 * <p>Tokens are cached per (audience, resource, scope) and replaced {@code safety-margin} before
 * they expire; concurrent requests share one fetch.
 */
public final class ClientCredentialsCredentials implements UpstreamCredentials {
    private static final Logger log = LoggerFactory.getLogger(ClientCredentialsCredentials.class);

    private final String route;
    private final TokenEndpointClient tokenEndpoint;
    private final ExchangedTokenCache cache;
    private final String audience;
    private final String resource;
    private final List<String> scopes;

    /**
     * @param audience the {@code audience} to request, or null
     * @param resource the RFC 8707 {@code resource} to request, or null
     * @param scopes   the scopes to request when policy names none
     */
    public ClientCredentialsCredentials(String route, TokenEndpointClient tokenEndpoint, ExchangedTokenCache cache,
                                        String audience, String resource, List<String> scopes) {
        this.route = route;
        this.tokenEndpoint = tokenEndpoint;
        this.cache = cache;
        this.audience = audience;
        this.resource = resource;
        this.scopes = List.copyOf(scopes);
    }

    @Override
    public Mono<Optional<String>> bearerFor(AuthorizedRequest request) {
        return token(RequestedScope.of(request, scopes)).map(token -> Optional.of(token.value()));
    }

    @Override
    public dev.portcullis.Step<Optional<String>> bearerNow(AuthorizedRequest request) {
        IssuedToken cached = cache.cachedOrNull(key(RequestedScope.of(request, scopes)));
        return cached != null ? dev.portcullis.Step.now(Optional.of(cached.value()))
                : dev.portcullis.Step.later(bearerFor(request).toFuture());
    }

    @Override
    public void invalidate(AuthorizedRequest request, String rejectedBearer) {
        cache.invalidate(key(RequestedScope.of(request, scopes)), rejectedBearer);
    }

    /**
     * Issue 17: the gateway's own token with the configured scopes, as {@code portcullis pin} and
     * {@code check --against-upstream} reach the upstream (no caller, so no policy-narrowed scope).
     */
    public Mono<String> configuredToken() {
        return ownToken().map(IssuedToken::value);
    }

    /** The gateway's own token with the configured scopes (the {@code actor_token}). */
    Mono<IssuedToken> ownToken() {
        return token(String.join(" ", new java.util.TreeSet<>(scopes)));
    }

    private Mono<IssuedToken> token(String scope) {
        return cache.get(key(scope), Instant.MAX, () -> tokenEndpoint.request(GrantRequest.clientCredentials(audience, resource, scope))
                .doOnNext(issued -> log.debug("route={} client-credentials token for client={} audience={} resource={} "
                                + "scope=\"{}\": sha256:{} jti={} expires={}", route, tokenEndpoint.clientId(), orDash(audience), orDash(resource),
                        scope, issued.fingerprint(), issued.tokenId(), issued.expiresAt())));
    }

    private static String orDash(String value) {
        return value == null ? "-" : value;
    }

    private ExchangedTokenCache.Key key(String scope) {
        return new ExchangedTokenCache.Key("", audience == null ? "" : audience, resource == null ? "" : resource, scope,
                tokenEndpoint.clientId());
    }

    @Override
    public String toString() {
        return "ClientCredentialsCredentials[route=" + route + ", client_id=" + tokenEndpoint.clientId() + "]";
    }
}
