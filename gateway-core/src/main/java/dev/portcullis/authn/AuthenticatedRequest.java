package dev.portcullis.authn;

import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;

/** A routed request whose bearer token has been validated for the route. */
public record AuthenticatedRequest(RoutedRequest routed, Principal principal) {
    public Route route() {
        return routed.route();
    }

    public String requestId() {
        return routed.requestId();
    }
}
