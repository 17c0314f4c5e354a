package dev.portcullis.route;

import dev.portcullis.listen.RequestHead;

/**
 * A request that has a route: the value the route stage hands to authenticate.
 *
 * @param head      the request head, read once by the listener
 * @param route     the route it matched
 * @param requestId a gateway-generated id for logs and audit
 */
public record RoutedRequest(RequestHead head, Route route, String requestId) {
    /** Whether it arrived over TLS. */
    public boolean secure() {
        return head.secure();
    }
}
