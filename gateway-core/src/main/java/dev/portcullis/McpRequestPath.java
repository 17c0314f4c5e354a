package dev.portcullis;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.audit.Auditor;
import dev.portcullis.audit.RequestProgress;
import dev.portcullis.authn.Authenticate;
import dev.portcullis.authz.Authorize;
import dev.portcullis.exchange.Exchange;
import dev.portcullis.failure.FailureResponses;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.forward.Forward;
import dev.portcullis.forward.LegacyStreams;
import dev.portcullis.inspect.Inspect;
import dev.portcullis.listen.NetworkConditions;
import dev.portcullis.route.ProtectedResourceMetadata;
import dev.portcullis.route.RequestOrigin;
import dev.portcullis.route.Route;
import dev.portcullis.route.RouteTable;
import dev.portcullis.route.RoutedRequest;
import io.netty.handler.codec.http.HttpMethod;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * The request path, top to bottom. Every MCP request goes through these stages in this order;
 * each returns a richer value or signals a {@link GatewayFailure}, which {@link FailureResponses}
 * renders. Nothing reaches the upstream before authenticate, inspect and authorize have passed.
 *
 * <pre>
 *   route → authenticate → inspect → authorize → exchange → forward
 * </pre>
 *
 * Well-known documents are answered by the gateway before routing and are never proxied (PRM-07).
 */
public final class McpRequestPath {
    private static final Logger access = LoggerFactory.getLogger("portcullis.access");
    private static final Logger log = LoggerFactory.getLogger(McpRequestPath.class);

    private static final java.time.Duration DISCARD_BODY_TIMEOUT = java.time.Duration.ofSeconds(2);

    private final RouteTable routes;
    private final Authenticate authenticate;
    private final Inspect inspect;
    private final Authorize authorize;
    private final Exchange exchange;
    private final Forward forward;
    private final FailureResponses failures;
    private final ObjectMapper json;
    private final Auditor auditor;
    private final RequestOrigin origin;
    private final LegacyStreams legacyStreams;
    private final boolean secure;
    private final NetworkConditions network;

    public McpRequestPath(RouteTable routes, Authenticate authenticate, Inspect inspect, Authorize authorize,
                          Exchange exchange, Forward forward, Auditor auditor, RequestOrigin origin,
                          LegacyStreams legacyStreams, ObjectMapper json, boolean secure, NetworkConditions network) {
        this.routes = routes;
        this.authenticate = authenticate;
        this.inspect = inspect;
        this.authorize = authorize;
        this.exchange = exchange;
        this.forward = forward;
        this.failures = new FailureResponses(json);
        this.json = json;
        this.auditor = auditor;
        this.origin = origin;
        this.legacyStreams = legacyStreams;
        this.secure = secure;
        this.network = network;
    }

    public Mono<Void> handle(HttpServerRequest request, HttpServerResponse response) {
        String path = pathOf(request.uri());
        if (path.startsWith("/.well-known/")) {
            return wellKnown(request, response, path);
        }
        Optional<Route> route = hasDotSegments(path) ? Optional.empty() : routes.select(path);
        if (route.isEmpty()) {
            return fail(response, null, GatewayFailure.of(Reason.NO_ROUTE, "Not found"), request, "-");
        }
        HttpMethod method = request.method();
        // Host and Origin come first, before any token is looked at: a rebound DNS name or a foreign
        // page must learn nothing, not even whether its token would have been accepted.
        try {
            origin.check(request.requestHeaders(), response.responseHeaders());
        } catch (GatewayFailure failure) {
            return fail(response, route.get(), failure, request, "-");
        }
        if (HttpMethod.OPTIONS.equals(method)) {
            RequestOrigin.preflight(response.responseHeaders());
            return response.status(204).header("Allow", "GET, POST, DELETE, OPTIONS").send().then();
        }
        if (!(HttpMethod.POST.equals(method) || HttpMethod.GET.equals(method) || HttpMethod.DELETE.equals(method))) {
            return fail(response, route.get(), GatewayFailure.of(Reason.METHOD_NOT_ALLOWED, "Method not allowed"),
                    request, "-");
        }
        String requestId = requestId();
        RoutedRequest routed = new RoutedRequest(request, route.get(), requestId, secure);
        RequestProgress progress = new RequestProgress(routed);
        return authenticate.apply(routed).doOnNext(progress::reached)
                .flatMap(inspect::apply).doOnNext(progress::reached)
                .flatMap(authorize::apply).doOnNext(progress::reached)
                .flatMap(exchange::apply).doOnNext(progress::reached)
                .doOnNext(upstream -> auditor.overhead(progress))
                .flatMap(upstream -> forward.apply(upstream, response))
                .doOnNext(result -> {
                    auditor.forwarded(progress, result);
                    access.info("route={} method={} status={} id={}", route.get().name(), method, result.status(), requestId);
                })
                .then()
                .onErrorResume(e -> {
                    if (clientGone(e, response, route.get(), requestId)) {
                        auditor.failed(progress, GatewayFailure.of(Reason.CLIENT_CLOSED_REQUEST, "Client closed the request",
                                e.getClass().getSimpleName()), 499);
                        return Mono.empty();
                    }
                    GatewayFailure failure = asFailure(e);
                    if (deliveredOnLegacyStream(progress, failure)) {
                        auditor.failed(progress, failure, 202);
                        return response.status(202).send().then();
                    }
                    auditor.failed(progress, failure, FailureResponses.status(failure.reason()));
                    return fail(response, route.get(), failure, request, requestId);
                });
    }

    /**
     * 2024-11-05 HTTP+SSE: answers travel on the caller's stream, so a request the gateway refuses
     * after it was read (a policy denial, say) is answered there, and the POST gets 202 (TRANSPORT-11).
     */
    private boolean deliveredOnLegacyStream(RequestProgress progress, GatewayFailure failure) {
        var inspected = progress.inspected();
        if (inspected == null || !progress.routed().route().config().legacySse() || inspected.upstreamSessionId().isEmpty()
                || failure.reason() == dev.portcullis.failure.Reason.INSUFFICIENT_SCOPE) {
            return false;
        }
        byte[] error = failures.jsonRpcError(failure);
        return error != null && legacyStreams.deliver(inspected.upstreamSessionId().get(), error);
    }

    private Mono<Void> fail(HttpServerResponse response, Route route, GatewayFailure failure,
                            HttpServerRequest request, String requestId) {
        access.info("route={} method={} reason={} detail=\"{}\" id={}", route == null ? "-" : route.name(),
                request.method(), failure.reason().name().toLowerCase(Locale.ROOT), failure.getMessage(), requestId);
        if (response.hasSentHeaders()) {
            // The response has started (an SSE stream broke mid-way): the status cannot change any more.
            return Mono.empty();
        }
        return unreadBodyDiscarded(request).then(failures.respond(response, route, failure));
    }

    /**
     * A request refused before its body was read still has the body on the wire. Read and drop it
     * (briefly) before answering, or closing the connection with unread data makes the kernel send a
     * reset that can destroy the answer before the client reads it.
     */
    private static Mono<Void> unreadBodyDiscarded(HttpServerRequest request) {
        return request.receive().then()
                .timeout(DISCARD_BODY_TIMEOUT, Mono.empty())
                .onErrorResume(alreadyRead -> Mono.empty());
    }

    /**
     * A request id for logs and audit: unique enough to correlate, not a secret. Not
     * {@code UUID.randomUUID()}: its shared SecureRandom takes a lock, which the event loop must not.
     */
    static String requestId() {
        java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
        return new UUID(random.nextLong(), random.nextLong()).toString();
    }

    /**
     * Issue 12 item 9: a client that hung up (mid-body, while waiting, mid-stream) is an everyday event, not
     * an internal error: counted, one access line without a stack trace, nothing written back.
     */
    private boolean clientGone(Throwable e, HttpServerResponse response, Route route, String requestId) {
        if (e instanceof GatewayFailure) {
            return false;
        }
        boolean gone = network.absorb(e, "route=" + route.name() + " id=" + requestId)
                || (e instanceof java.io.IOException && response instanceof reactor.netty.Connection c && !c.channel().isActive());
        if (gone) {
            access.info("route={} reason=client_closed_request detail=\"{}\" id={}", route.name(), e.getClass().getSimpleName(),
                    requestId);
        }
        return gone;
    }

    private static GatewayFailure asFailure(Throwable e) {
        if (e instanceof GatewayFailure failure) {
            return failure;
        }
        log.error("unexpected failure on the request path", e);
        return GatewayFailure.of(Reason.INTERNAL, "Internal error", e.getClass().getName(), e);
    }

    /** RFC 9728 metadata: no authentication, GET/HEAD only, CORS open (PRM-07). */
    private Mono<Void> wellKnown(HttpServerRequest request, HttpServerResponse response, String path) {
        Optional<Route> route = routes.byMetadataPath(path);
        if (route.isEmpty()) {
            return response.status(404).header("Cache-Control", "no-store").send().then();
        }
        if (!(HttpMethod.GET.equals(request.method()) || HttpMethod.HEAD.equals(request.method()))) {
            return response.status(405).header("Allow", "GET, HEAD").send().then();
        }
        byte[] document = ProtectedResourceMetadata.document(route.get(), json);
        return response.status(200)
                .header("Content-Type", "application/json")
                .header("Access-Control-Allow-Origin", "*")
                .header("Cache-Control", "public, max-age=300")
                .sendByteArray(Mono.just(document)).then();
    }

    static String pathOf(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }

    /** "." and ".." segments (also percent-encoded) never match a route, so the upstream cannot resolve them elsewhere. */
    static boolean hasDotSegments(String path) {
        String lower = path.toLowerCase(Locale.ROOT);
        if (lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") || lower.contains("\\")) {
            return true;
        }
        for (String segment : path.split("/", -1)) {
            if (segment.equals(".") || segment.equals("..")) {
                return true;
            }
        }
        return false;
    }
}
