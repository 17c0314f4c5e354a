package dev.portcullis.route;

import reactor.netty.http.server.HttpServerRequest;

/**
 * A request that has a route. The first value of the request path.
 *
 * @param request   the inbound request (headers and body not yet read)
 * @param route     the route it matched
 * @param requestId a gateway-generated id for logs and audit
 * @param secure    whether it arrived over TLS
 */
public record RoutedRequest(HttpServerRequest request, Route route, String requestId, boolean secure) {}
