package dev.portcullis.authn;

import dev.portcullis.route.RoutedRequest;
import reactor.core.publisher.Mono;

/**
 * Stage 3: the bearer token from the Authorization header, validated for the route's resource,
 * becomes a {@link Principal}. Runs before the body is read or anything reaches the upstream
 * (AUTHN-15). Failures: 401 (none / invalid token), 400 (ambiguous credentials), 503 (keys
 * unavailable).
 */
public final class Authenticate {
    private final BearerTokenExtractor extractor = new BearerTokenExtractor();
    private final TokenVerifier verifier;

    public Authenticate(TokenVerifier verifier) {
        this.verifier = verifier;
    }

    public Mono<AuthenticatedRequest> apply(RoutedRequest routed) {
        return Mono.fromCallable(() -> extractor.extract(routed.request().requestHeaders(), routed.request().uri()))
                .flatMap(token -> verifier.verify(token, routed.route().acceptedAudiences()))
                .map(principal -> new AuthenticatedRequest(routed, principal));
    }
}
