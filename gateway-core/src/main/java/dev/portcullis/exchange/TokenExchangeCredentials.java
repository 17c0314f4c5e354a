package dev.portcullis.exchange;

import dev.portcullis.authn.Principal;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.config.UpstreamAuthConfig;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * Route mode {@code token-exchange}: the upstream receives a token the IdP issued for it on the
 * caller's behalf (EXCHANGE-01..07), by RFC 8693 token exchange or, for Microsoft Entra, by the
 * on-behalf-of flow. With {@code actor-token: true} the gateway's own client-credentials token is
 * sent as {@code actor_token}, so the IdP can record the gateway as actor ({@code act}).
 *
 * <p>Tokens are cached per (subject token, audience, resource, scope, actor) and never outlive the
 * caller's token. Failures fail closed: the caller's token is never sent instead.
 */
public final class TokenExchangeCredentials implements UpstreamCredentials {
    private static final Logger log = LoggerFactory.getLogger(TokenExchangeCredentials.class);

    private final String route;
    private final UpstreamAuthConfig config;
    private final TokenEndpointClient tokenEndpoint;
    private final ExchangedTokenCache cache;
    private final ClientCredentialsCredentials actor;
    /** Flavor id-jag: the upstream's authorization server, where the grant is redeemed; else null. */
    private final TokenEndpointClient authorizationServer;

    /**
     * @param actor the gateway's own token source for {@code actor_token}, or null to send none
     */
    public TokenExchangeCredentials(String route, UpstreamAuthConfig config, TokenEndpointClient tokenEndpoint,
                                    ExchangedTokenCache cache, ClientCredentialsCredentials actor) {
        this(route, config, tokenEndpoint, cache, actor, null);
    }

    /** @param authorizationServer for flavor id-jag: the upstream's authorization server's token endpoint */
    public TokenExchangeCredentials(String route, UpstreamAuthConfig config, TokenEndpointClient tokenEndpoint,
                                    ExchangedTokenCache cache, ClientCredentialsCredentials actor,
                                    TokenEndpointClient authorizationServer) {
        this.route = route;
        this.config = config;
        this.tokenEndpoint = tokenEndpoint;
        this.cache = cache;
        this.actor = actor;
        this.authorizationServer = authorizationServer;
        if (config.parsedFlavor() == UpstreamAuthConfig.Flavor.ID_JAG && authorizationServer == null) {
            throw new IllegalArgumentException("route " + route + ": flavor id-jag needs the upstream's authorization server");
        }
    }

    @Override
    public Mono<Optional<String>> bearerFor(AuthorizedRequest request) {
        Principal principal = principal(request);
        String scope = RequestedScope.of(request, config.scopes());
        return cache.get(key(principal, scope), principal.expiresAt(), () -> exchange(principal, scope))
                .map(token -> Optional.of(token.value()));
    }

    @Override
    public dev.portcullis.Step<Optional<String>> bearerNow(AuthorizedRequest request) {
        Principal principal = principal(request);
        IssuedToken cached = cache.cachedOrNull(key(principal, RequestedScope.of(request, config.scopes())));
        return cached != null ? dev.portcullis.Step.now(Optional.of(cached.value()))
                : dev.portcullis.Step.later(bearerFor(request).toFuture());
    }

    @Override
    public void invalidate(AuthorizedRequest request, String rejectedBearer) {
        Principal principal = principal(request);
        cache.invalidate(key(principal, RequestedScope.of(request, config.scopes())), rejectedBearer);
    }

    private Mono<IssuedToken> exchange(Principal principal, String scope) {
        if (config.parsedFlavor() == UpstreamAuthConfig.Flavor.ID_JAG) {
            // Issue 16, enterprise-managed authorization: the enterprise IdP issues an Identity Assertion JWT
            // Authorization Grant for the upstream's authorization server, which redeems it (RFC 7523) for the
            // upstream's access token. The grant itself is never cached, logged or sent upstream.
            return tokenEndpoint.request(GrantRequest.idJag(principal.token().value(), config.audience(), config.resource(), scope))
                    .flatMap(grant -> authorizationServer.request(GrantRequest.jwtBearer(grant.value(), config.resource(), scope)))
                    .doOnNext(issued -> logDelegation(principal, scope, Optional.empty(), issued));
        }
        Mono<Optional<IssuedToken>> actorToken = actor == null ? Mono.just(Optional.empty())
                : actor.ownToken().map(Optional::of);
        return actorToken.flatMap(actingAs -> tokenEndpoint.request(grant(principal, scope, actingAs))
                .doOnNext(issued -> logDelegation(principal, scope, actingAs, issued)));
    }

    private GrantRequest grant(Principal principal, String scope, Optional<IssuedToken> actorToken) {
        String subjectToken = principal.token().value();
        if (config.parsedFlavor() == UpstreamAuthConfig.Flavor.ENTRA_OBO) {
            return GrantRequest.entraOnBehalfOf(subjectToken, scope);
        }
        return GrantRequest.tokenExchange(subjectToken, config.audience(), config.resource(), scope,
                actorToken.map(IssuedToken::value).orElse(null));
    }

    /** The delegation chain, without token values: subject, agent, gateway as actor, upstream (SECURITY-05). */
    private void logDelegation(Principal principal, String scope, Optional<IssuedToken> actorToken, IssuedToken issued) {
        if (log.isDebugEnabled()) {
            log.debug("route={} exchanged ({}) subject={} agent={} actor={} audience={} resource={} scope=\"{}\" "
                            + "subject_token=sha256:{} subject_jti={} -> issued sha256:{} jti={} granted_scope=\"{}\" expires={}",
                    route, config.flavor(), principal.subject(), principal.agent().isEmpty() ? "-" : principal.agent(),
                    actorToken.map(t -> tokenEndpoint.clientId() + " (actor_token sha256:" + t.fingerprint() + ")").orElse("-"),
                    orDash(config.audience()), orDash(config.resource()), scope, principal.token().sha256().substring(0, 12),
                    principal.tokenId().isEmpty() ? "-" : principal.tokenId(), issued.fingerprint(), issued.tokenId(),
                    issued.grantedScope(), issued.expiresAt());
        }
    }

    private ExchangedTokenCache.Key key(Principal principal, String scope) {
        return new ExchangedTokenCache.Key(principal.token().sha256(), nonNull(config.audience()), nonNull(config.resource()),
                scope, actor == null ? "" : tokenEndpoint.clientId());
    }

    private static Principal principal(AuthorizedRequest request) {
        return request.principal();
    }

    private static String orDash(String value) {
        return value == null ? "-" : value;
    }

    private static String nonNull(String value) {
        return value == null ? "" : value;
    }

    @Override
    public String toString() {
        return "TokenExchangeCredentials[route=" + route + ", flavor=" + config.flavor() + "]";
    }
}
