package dev.portcullis.authn;

import dev.portcullis.route.RoutedRequest;
import java.util.Optional;

/**
 * A routed request whose bearer token has been validated for the route.
 *
 * @param routed            the previous stage's value
 * @param principal         who is calling
 * @param upstreamSessionId the upstream's session id, when the request carried a gateway session id
 *                          bound to this principal and route ({@link SessionBinding})
 */
public record AuthenticatedRequest(RoutedRequest routed, Principal principal, Optional<String> upstreamSessionId) {
    public AuthenticatedRequest(RoutedRequest routed, Principal principal) {
        this(routed, principal, Optional.empty());
    }
}
