package dev.portcullis.audit;

import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.exchange.UpstreamRequest;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.route.RoutedRequest;
import dev.portcullis.trace.RequestTrace;
import java.time.Instant;

/**
 * How far one request got along the path, for its audit events and metrics. Confined to the
 * request: each stage's value is recorded once, in path order, by the request path.
 */
public final class RequestProgress {
    final Instant arrived = Instant.now();
    final long startNanos = System.nanoTime();
    final RoutedRequest routed;
    AuthenticatedRequest authenticated;
    InspectedRequest inspected;
    AuthorizedRequest authorized;
    UpstreamRequest upstream;
    final RequestTrace trace;

    public RequestProgress(RoutedRequest routed) {
        this(routed, RequestTrace.OFF);
    }

    public RequestProgress(RoutedRequest routed, RequestTrace trace) {
        this.routed = routed;
        this.trace = trace;
    }

    /** The request's trace ({@link RequestTrace#OFF} when tracing is off). */
    public RequestTrace trace() {
        return trace;
    }

    public void reached(AuthenticatedRequest value) {
        authenticated = value;
    }

    public void reached(InspectedRequest value) {
        inspected = value;
    }

    public void reached(AuthorizedRequest value) {
        authorized = value;
    }

    public void reached(UpstreamRequest value) {
        upstream = value;
    }

    /** Nanoseconds since the request arrived. */
    public long elapsedNanos() {
        return System.nanoTime() - startNanos;
    }

    public RoutedRequest routed() {
        return routed;
    }

    /** The route the request matched. */
    public dev.portcullis.route.Route route() {
        return routed.route();
    }

    /** The gateway-generated id of the request, for logs and audit. */
    public String requestId() {
        return routed.requestId();
    }

    /** The inspected request, or null when the request failed before its body was read. */
    public InspectedRequest inspected() {
        return inspected;
    }
}
