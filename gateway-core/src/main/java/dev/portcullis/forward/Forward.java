package dev.portcullis.forward;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.exchange.UpstreamRequest;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;
import dev.portcullis.http.BoundedBody;
import dev.portcullis.inspect.McpMessage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.timeout.ReadTimeoutException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.netty.Connection;
import reactor.netty.NettyPipeline;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.client.HttpClientResponse;
import reactor.netty.http.client.PrematureCloseException;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.resources.ConnectionProvider;

/**
 * Stage 7: send the request upstream with a pooled, non-blocking client and stream the answer back.
 *
 * <p>How bytes and backpressure cross the proxy:
 * <ol>
 *   <li>The request body was read (bounded) by the inspect stage and is sent as those exact bytes.</li>
 *   <li>When the upstream's status and headers arrive they are rewritten ({@link HeaderRewrite}) and
 *       sent to the client at once.</li>
 *   <li>The upstream body is relayed chunk by chunk as Netty reads it, each chunk flushed to the client
 *       immediately, so an SSE event reaches the client as soon as the upstream emits it and nothing is
 *       buffered whole (TRANSPORT-04). Reactor Netty requests the next upstream chunk only as the
 *       client write side drains, so a slow client slows the upstream read instead of filling memory.</li>
 *   <li>An SSE response is not subject to the response timeout once it has started: the timeout
 *       handler is removed when the headers arrive, so a quiet stream is not cut.</li>
 * </ol>
 * An upstream 401/403 is never relayed (CHALLENGE-07): it becomes 502, after one retry with a
 * renewed token when the 401 refused a token the gateway obtained.
 */
public final class Forward {
    private static final Logger log = LoggerFactory.getLogger(Forward.class);
    private final Map<String, HttpClient> clients = new HashMap<>();
    private final ConnectionProvider pool;
    /** Upstream connections per route at most (each open SSE stream holds one). */
    static final int MAX_UPSTREAM_CONNECTIONS = 20_000;

    /** A list response larger than this cannot be filtered and is refused (fail closed). */
    static final long MAX_FILTERED_BODY = 16L * 1024 * 1024;

    /** A non-stream answer with a Content-Length up to this size is sent to the client in one write. */
    static final int ONE_WRITE_BODY = 64 * 1024;

    private final AtomicInteger activeStreams = new AtomicInteger();
    /** Completes when the gateway shuts down: open SSE relays then end cleanly instead of being cut. */
    private final Sinks.Empty<Void> shutdown = Sinks.empty();

    private final SessionBinding sessions;
    private final LegacyStreams legacyStreams;
    private final ListenStreams listenStreams;
    /** The {@code _meta} key tagging every event of a listen stream with its subscription (V26-20). */
    static final String SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId";
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    public Forward(List<Route> routes, SessionBinding sessions, LegacyStreams legacyStreams, ListenStreams listenStreams) {
        this.sessions = sessions;
        this.legacyStreams = legacyStreams;
        this.listenStreams = listenStreams;
        // Jackson builds deserializers on first use under a lock: here, at start, not on an event loop.
        BatchAnswers.warm();
        ListFilter.warm();
        ServerRequests.warm();
        // Every open SSE stream holds one upstream connection for its whole life (HTTP/1.1), so the pool
        // is sized for streams, not for request rate: idle connections are cheap, a full pool is a 504.
        this.pool = ConnectionProvider.builder("portcullis-upstream")
                .maxConnections(MAX_UPSTREAM_CONNECTIONS)
                .pendingAcquireMaxCount(4096)
                .maxIdleTime(Duration.ofSeconds(30))
                .build();
        for (Route route : routes) {
            HttpClient client = HttpClient.create(pool)
                    .followRedirect(false)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) route.config().connectTimeout().toMillis())
                    .responseTimeout(route.config().responseTimeout())
                    .doOnResponse(Forward::keepStreamsOpen);
            clients.put(route.name(), client);
        }
    }

    /** Relays the upstream's answer to {@code response}; emits when the whole body has been relayed. */
    public Mono<ForwardResult> apply(UpstreamRequest upstream, HttpServerResponse response) {
        JsonNode errorId = upstream.authorized().inspected().errorId();
        return send(upstream, response, true)
                // A client that left while its answer was sent is not an upstream failure (issue 12 item 9).
                .onErrorMap(e -> !(e instanceof GatewayFailure) && !dev.portcullis.listen.NetworkConditions.isAborted(e)
                        && !clientLeft(response), Forward::toFailure)
                .onErrorMap(GatewayFailure.class, f -> f.withJsonRpcId(errorId));
    }

    /**
     * One upstream attempt. When the upstream answers 401 to a token the gateway obtained, that
     * token is dropped and the request is sent once more with a fresh one (CHALLENGE-07); a second
     * refusal is final (502).
     */
    private Mono<ForwardResult> send(UpstreamRequest upstream, HttpServerResponse response, boolean mayRenew) {
        var inspected = upstream.authorized().inspected();
        RoutedRequest routed = inspected.authenticated().routed();
        HttpServerRequest in = routed.request();
        URI target = LegacySse.target(inspected)
                .orElseGet(() -> routed.route().upstreamUri(pathOf(in.uri()), queryOf(in.uri())));
        InetSocketAddress remote = in.remoteAddress();
        String clientAddress = remote != null && remote.getAddress() != null ? remote.getAddress().getHostAddress() : null;
        byte[] body = upstream.authorized().upstreamBody();
        long sent = System.nanoTime();
        boolean renewOn401 = mayRenew && upstream.renewable();

        return clients.get(routed.route().name())
                .request(in.method())
                .uri(target)
                .send((request, out) -> {
                    // Headers are set on this request, not with HttpClient.headers(...), which copies the
                    // client's whole configuration on every call.
                    HttpHeaders h = request.requestHeaders();
                    HeaderRewrite.toUpstream(in.requestHeaders(), h, upstream.upstreamBearer(), clientAddress, routed.secure());
                    // The client holds the gateway's session id; the upstream gets its own back.
                    h.remove("Mcp-Session-Id");
                    if (!routed.route().config().legacySse()) {
                        inspected.upstreamSessionId().ifPresent(id -> h.set("Mcp-Session-Id", id));
                    }
                    MirroredHeaders.rebuild(inspected, h);
                    if (body.length > 0) {
                        // Issue 12: the body is forwarded as what it was inspected as: UTF-8 JSON, not content-coded.
                        h.set("Content-Type", dev.portcullis.inspect.JsonContentType.FORWARDED);
                        h.remove("Content-Encoding");
                    }
                    return body.length == 0 ? out : out.sendByteArray(Mono.just(body));
                })
                .responseConnection((upstreamResponse, connection) ->
                        relay(upstream, upstreamResponse, connection, response, sent, renewOn401,
                                ListFilter.forRequest(upstream.authorized()).orElse(null)))
                .next()
                .onErrorResume(CredentialRefused.class, refused -> {
                    log.info("route={} upstream refused the gateway's token with 401; renewing it once", routed.route().name());
                    return upstream.renewed().flatMap(renewed -> send(renewed, response, false));
                });
    }

    private Mono<ForwardResult> relay(UpstreamRequest request, HttpClientResponse upstream, Connection connection,
                                      HttpServerResponse response, long sent, boolean renewOn401, ListFilter filter) {
        ForwardResult result = new ForwardResult(upstream.status().code(), sent, System.nanoTime());
        int status = result.status();
        if (status == 401 && renewOn401) {
            return connection.inbound().receive().then(Mono.error(new CredentialRefused()));
        }
        if (status == 401 || status == 403) {
            return connection.inbound().receive().then(Mono.error(GatewayFailure.of(
                    Reason.UPSTREAM_REJECTED_CREDENTIALS, "Upstream MCP server refused the gateway's credentials",
                    "upstream answered " + status)));
        }
        if (filter != null && !ListFilter.readable(upstream.responseHeaders().get("Content-Encoding"))) {
            // The gateway asks for no encoding; an answer it cannot read cannot be filtered (fail closed).
            return connection.inbound().receive().then(Mono.error(GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE,
                    "Upstream MCP server unavailable", "encoded answer (Content-Encoding) on a route that filters lists")));
        }
        boolean stream = isEventStream(upstream);
        HeaderRewrite.toClient(upstream.responseHeaders(), response.responseHeaders(), stream);
        String upstreamSession = upstream.responseHeaders().get("Mcp-Session-Id");
        if (upstreamSession != null) {
            var authenticated = request.authorized().inspected().authenticated();
            response.responseHeaders().set("Mcp-Session-Id", sessions.seal(upstreamSession, authenticated.principal(),
                    authenticated.routed().route().name()));
        }
        response.status(HttpResponseStatus.valueOf(status));
        var partial = request.authorized().partialBatch();
        BatchAnswers batch = partial == null ? null : new BatchAnswers(request.authorized().inspected().messages(), partial);
        if (batch != null && !batch.answersSomething()) {
            batch = null; // only notifications were refused: nothing to answer (JSONRPC-06)
        }
        if (filter != null || (batch != null && status == 200)) {
            // A list may be rewritten (or errors are merged in), so the length may change.
            response.responseHeaders().remove("Content-Length");
        }
        if (batch != null && status == 202) {
            // The upstream took the forwarded notifications; the refused requests still need their errors.
            BatchAnswers answers = batch;
            response.status(HttpResponseStatus.OK);
            response.responseHeaders().remove("Content-Length").set("Content-Type", "application/json");
            return response.sendByteArray(connection.inbound().receive().then(Mono.fromSupplier(answers::errorsOnly)))
                    .then().thenReturn(result);
        }
        if (!stream && batch != null && status == 200) {
            BatchAnswers answers = batch;
            ListFilter lists = filter;
            Mono<byte[]> merged = whole(connection, MAX_FILTERED_BODY, "batch response too large to merge")
                    .map(answers::mergeJson)
                    .map(body -> lists == null ? body : filtered(lists, body));
            return response.sendByteArray(merged).then().thenReturn(result);
        }
        if (!stream) {
            if (filter != null) {
                // Any answer on a policy route may carry a list (whatever it answers, whatever its status): it
                // must be whole before it can be filtered; bounded, and failed closed beyond.
                Mono<byte[]> filtered = whole(connection, MAX_FILTERED_BODY, "list response too large to filter")
                        .map(body -> filtered(filter, body));
                return response.sendByteArray(filtered).then().thenReturn(result);
            }
            long length = contentLength(upstream);
            if (length >= 0 && length <= ONE_WRITE_BODY) {
                // A small answer of known length goes out with its headers in one write (one syscall
                // instead of two); anything else is relayed chunk by chunk as it arrives.
                return response.sendByteArray(whole(connection, ONE_WRITE_BODY, "response longer than its Content-Length"))
                        .then().thenReturn(result);
            }
            return response.send(connection.inbound().receive().retain(), chunk -> true).then().thenReturn(result);
        }
        activeStreams.incrementAndGet();
        // A stream lives no longer than the token that authorised it (TRANSPORT-08, V26-21): the client
        // reconnects with a fresh token, which is checked like any request.
        var inspected = request.authorized().inspected();
        Duration tokenLeft = Duration.between(java.time.Instant.now(), inspected.authenticated().principal().acceptedUntil());
        java.util.concurrent.atomic.AtomicBoolean endedHere = new java.util.concurrent.atomic.AtomicBoolean();
        Mono<Long> ended = Mono.firstWithSignal(shutdown.asMono().thenReturn(0L),
                        Mono.delay(tokenLeft.isNegative() ? Duration.ZERO : tokenLeft))
                .doOnNext(signal -> endedHere.set(true));
        Optional<LegacySse> legacy = status == 200 ? LegacySse.forStream(request, sessions, legacyStreams) : Optional.empty();
        boolean modern = inspected.era() == dev.portcullis.inspect.Era.MODERN;
        McpMessage first = inspected.messages().isEmpty() ? null : inspected.messages().get(0);
        boolean listen = modern && first != null && dev.portcullis.authz.SubscriptionFilter.METHOD.equals(first.method());
        String routeName = inspected.authenticated().routed().route().name();
        Flux<ByteBuf> events;
        if (legacy.isPresent()) {
            // 2024-11-05: the endpoint event is rewritten to the gateway, and results on the stream filtered.
            events = legacy.get().relay(connection.inbound().receive().asByteArray())
                    .takeUntilOther(ended).map(Unpooled::wrappedBuffer);
        } else if (modern || filter != null || (batch != null && status == 200)) {
            // Re-framed into whole events: every event holding a list is filtered by its shape (replayed,
            // resumed and unattributed ones too), a modern stream loses any server-to-client request
            // (V26-29); the rest pass as they are.
            java.util.function.UnaryOperator<byte[]> rewrite = filter != null ? filter::filterEvent : e -> e;
            if (modern) {
                java.util.function.UnaryOperator<byte[]> lists = rewrite;
                rewrite = event -> {
                    byte[] kept = ServerRequests.withoutRequests(event, routeName);
                    return kept == ServerRequests.DROPPED ? kept : lists.apply(kept);
                };
            }
            Flux<byte[]> frames = SseEvents.rewriteEach(connection.inbound().receive().asByteArray(), rewrite)
                    .filter(event -> event.length > 0);
            if (batch != null && status == 200) {
                // E9: each synthesised error is one more event on the upstream's stream.
                frames = Flux.fromIterable(batch.errorEvents()).concatWith(frames);
            }
            if (listen && status == 200 && inspected.authenticated().routed().route().filtersLists()) {
                // V26-34: registered while the stream is relayed (from subscription to its end), so the registry
                // holds open streams only; gateway-made list_changed events join the stream once the upstream's
                // acknowledgment (its first event) has passed, and end with it.
                Flux<byte[]> upstreamFrames = frames;
                frames = Flux.defer(() -> {
                    ListenStreams.Stream registered = listenStreams.register(routeName,
                            inspected.authenticated().principal().asSubject(),
                            first.params() == null ? null : first.params().get("notifications"), first.id());
                    if (registered == null) {
                        return upstreamFrames;
                    }
                    return upstreamFrames.doFinally(signal -> registered.close())
                            .switchOnFirst((signal, all) -> signal.hasValue() ? Flux.merge(all, registered.events()) : all);
                });
            }
            events = frames.takeUntilOther(ended).map(Unpooled::wrappedBuffer);
        } else {
            events = connection.inbound().receive().takeUntilOther(ended).map(ByteBuf::retain);
        }
        if (listen) {
            events = events.concatWith(Mono.defer(() -> endedHere.get()
                    ? Mono.just(Unpooled.wrappedBuffer(endOfSubscription(first.id())))
                    : Mono.empty()));
        }
        return response.send(events, chunk -> true)
                .then()
                .doFinally(signal -> activeStreams.decrementAndGet())
                .thenReturn(result);
    }

    /**
     * The last event of a 2026-07-28 {@code subscriptions/listen} stream the gateway ends (token expiry,
     * shutdown): the listen request's result, so the client knows to listen again (V26-21).
     */
    static byte[] endOfSubscription(com.fasterxml.jackson.databind.JsonNode id) {
        var message = JSON.createObjectNode();
        message.put("jsonrpc", "2.0");
        message.set("id", id);
        var result = message.putObject("result");
        result.put("resultType", "complete");
        result.putObject("_meta").set(SUBSCRIPTION_ID_KEY, id);
        return SseEvents.event(message.toString());
    }

    /** A whole JSON answer through the list filter; one that may hold a list but cannot be read is not relayed (502). */
    private static byte[] filtered(ListFilter filter, byte[] body) {
        try {
            return filter.filterJson(body);
        } catch (ListFilter.Unfilterable e) {
            throw GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE, "Upstream MCP server unavailable", e.getMessage());
        }
    }

    /** The upstream body read whole, at most {@code limit} bytes; beyond that the request fails closed (502). */
    private static Mono<byte[]> whole(Connection connection, long limit, String tooLarge) {
        return BoundedBody.collect(connection.inbound().receive(), limit)
                .onErrorMap(BoundedBody.TooLarge.class, e -> GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE,
                        "Upstream MCP server unavailable", tooLarge));
    }

    private static long contentLength(HttpClientResponse upstream) {
        String value = upstream.responseHeaders().get("Content-Length");
        if (value == null) {
            return -1;
        }
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Whether the client's own connection is closed (then a write failure is the client's leaving, not the upstream's fault). */
    private static boolean clientLeft(HttpServerResponse response) {
        return response instanceof Connection connection && !connection.channel().isActive();
    }

    /** SSE responses being relayed right now. */
    public int activeStreams() {
        return activeStreams.get();
    }

    /** Ends every open SSE relay cleanly (the client sees the stream end, not a reset); new ones end at once. */
    public void endStreams() {
        shutdown.tryEmitEmpty();
    }

    /** The upstream answered 401 to a token that can be renewed; internal to one forward. */
    private static final class CredentialRefused extends RuntimeException {
        private static final long serialVersionUID = 1L;

        CredentialRefused() {
            super("upstream answered 401", null, false, false);
        }
    }

    /** SSE streams may stay quiet for long; the response timeout only guards their headers. */
    private static void keepStreamsOpen(HttpClientResponse upstream, Connection connection) {
        if (isEventStream(upstream)) {
            connection.removeHandler(NettyPipeline.ResponseTimeoutHandler);
        }
    }

    private static boolean isEventStream(HttpClientResponse upstream) {
        String type = upstream.responseHeaders().get("Content-Type", "");
        return type.toLowerCase(Locale.ROOT).startsWith("text/event-stream");
    }

    private static GatewayFailure toFailure(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof ReadTimeoutException || c instanceof TimeoutException) {
                return GatewayFailure.of(Reason.UPSTREAM_TIMEOUT, "Upstream MCP server timed out", "upstream timeout", e);
            }
        }
        String detail = e instanceof PrematureCloseException ? "upstream closed the connection early" : e.toString();
        return GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE, "Upstream MCP server unavailable", detail, e);
    }

    static String pathOf(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }

    static String queryOf(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? null : uri.substring(q + 1);
    }

    public void close() {
        pool.dispose();
    }
}
