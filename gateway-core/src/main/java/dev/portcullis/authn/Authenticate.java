package dev.portcullis.authn;

import dev.portcullis.Step;
import dev.portcullis.route.RoutedRequest;

/**
 * Stage 3: the bearer token from the Authorization header, validated for the route's resource,
 * becomes a {@link Principal}. Runs before the body is looked at or anything reaches the upstream
 * (AUTHN-15). Failures: 401 (none / invalid token), 400 (ambiguous credentials), 503 (keys
 * unavailable). A token whose signature was checked before is answered at once; a new one may wait
 * for the issuer's keys.
 */
public final class Authenticate {
    private final BearerTokenExtractor extractor = new BearerTokenExtractor();
    private final TokenVerifier verifier;

    public Authenticate(TokenVerifier verifier) {
        this.verifier = verifier;
    }

    /** Throws {@link dev.portcullis.failure.GatewayFailure} for a missing or ambiguous credential. */
    public Step<AuthenticatedRequest> apply(RoutedRequest routed) {
        BearerToken token = extractor.extract(routed.head().headers(), routed.head().uri());
        Step<Principal> principal = verifier.check(token, routed.route().acceptedAudiences());
        if (principal.ready()) {
            return Step.now(new AuthenticatedRequest(routed, principal.value()));
        }
        return Step.later(principal.future().thenApply(p -> new AuthenticatedRequest(routed, p)));
    }
}
