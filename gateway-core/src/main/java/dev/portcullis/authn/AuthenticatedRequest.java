package dev.portcullis.authn;

import dev.portcullis.listen.RequestHead;
import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;

/**
 * A routed request whose bearer token has been validated for the route: the value authenticate hands to
 * inspect. Flat: every fact of the routed request is a component of its own.
 *
 * @param head      the request head, read once by the listener
 * @param route     the route it matched
 * @param requestId a gateway-generated id for logs and audit
 * @param principal who is calling, from the validated token
 */
public record AuthenticatedRequest(RequestHead head, Route route, String requestId, Principal principal) {
    /** The routed request and the principal its token names. */
    public AuthenticatedRequest(RoutedRequest routed, Principal principal) {
        this(routed.head(), routed.route(), routed.requestId(), principal);
    }
}
