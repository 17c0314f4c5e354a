package dev.portcullis.authn;

import dev.portcullis.route.RoutedRequest;
import java.util.Optional;
import reactor.core.publisher.Mono;

/**
 * Stage 3: the bearer token from the Authorization header, validated for the route's resource,
 * becomes a {@link Principal}; a session id the request carries must belong to that principal
 * ({@link SessionBinding}: 404 otherwise). Runs before the body is read or anything reaches the upstream
 * (AUTHN-15). Failures: 401 (none / invalid token), 400 (ambiguous credentials), 503 (keys
 * unavailable).
 */
public final class Authenticate {
    private final BearerTokenExtractor extractor = new BearerTokenExtractor();
    private final TokenVerifier verifier;
    private final SessionBinding sessions;

    public Authenticate(TokenVerifier verifier, SessionBinding sessions) {
        this.verifier = verifier;
        this.sessions = sessions;
    }

    public Mono<AuthenticatedRequest> apply(RoutedRequest routed) {
        return Mono.fromCallable(() -> extractor.extract(routed.request().requestHeaders(), routed.request().uri()))
                .flatMap(token -> verifier.verify(token, routed.route().acceptedAudiences()))
                .map(principal -> new AuthenticatedRequest(routed, principal, upstreamSession(routed, principal)));
    }

    /** The token is checked first; only then is a session id opened, and only for its own principal. */
    private Optional<String> upstreamSession(RoutedRequest routed, Principal principal) {
        String gatewayId = routed.request().requestHeaders().get("Mcp-Session-Id");
        if (gatewayId == null) {
            return Optional.empty();
        }
        return Optional.of(sessions.open(gatewayId, principal, routed.route().name()));
    }
}
