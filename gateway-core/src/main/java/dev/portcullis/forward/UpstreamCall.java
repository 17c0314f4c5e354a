package dev.portcullis.forward;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.exchange.UpstreamRequest;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.listen.Inbound;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.route.Route;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.ReadTimeoutException;
import io.netty.util.ReferenceCountUtil;
import java.net.URI;
import java.time.Instant;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request sent upstream and the relay of its answer, on the inbound connection's event loop. Every
 * method runs on that loop (the upstream connection is on it too), except {@link #endFromAnyThread} and the
 * injection of gateway-made events, which hop onto it.
 *
 * <p>How the answer is relayed is decided when the upstream's head arrives, as a {@link ReplyPlan} (discard,
 * pass through, whole body, event stream, with its named transforms); this class carries the plan out: it reads,
 * buffers, frames, writes, and performs the plan's effects on the stream's life (a 2024-11-05 stream's
 * registration for the gateway's refusals, a listen stream's {@code list_changed} events and closing result,
 * the end at token expiry, the shutdown drain).
 */
final class UpstreamCall {
    private static final Logger log = LoggerFactory.getLogger(UpstreamCall.class);

    private enum Mode { HEAD, DRAIN, WHOLE, PASS, STREAM }

    private final Forward forward;
    private final UpstreamRequest upstream;
    private final Inbound in;
    private final HttpHeaders cors;
    private final Forward.Done done;
    private final boolean mayRenew;
    private final Route route;
    private final URI target;
    private final String origin;
    private final long responseTimeoutNanos;

    private Channel channel;
    private boolean reused;
    private boolean retried;
    private boolean over;
    private long sentNanos;
    private long lastReadNanos;
    private ScheduledFuture<?> timeout;
    private ForwardResult result;
    private boolean upstreamKeepAlive;
    private boolean informational;
    private Mode mode = Mode.HEAD;
    private Runnable afterDrain;

    /** How the answer is relayed: decided when the upstream's head arrived. */
    private ReplyPlan plan;

    // WHOLE
    private HttpResponse clientHead;
    private ByteBuf whole;

    // STREAM
    private SseEvents.Framer framer;
    /** 2024-11-05 caller stream: the step that rewrites its endpoint, and the endpoint it announced. */
    private EndpointRewrite endpoints;
    private String announcedEndpoint;
    /** Takes the gateway's own events for a 2024-11-05 caller stream (from any thread). */
    private final java.util.function.Consumer<byte[]> injected = this::injectFromAnyThread;
    private SubscriptionEvents subscription;
    private ListenStreams.Stream listen;
    private boolean firstRelayed;
    private ScheduledFuture<?> tokenEnd;
    /**
     * Issue 14 (drain): a stream that answers no request of its own (a 2025 GET stream, a 2026 listen
     * stream) ends as soon as the gateway starts draining; a stream that answers requests runs on until
     * they are answered or the shutdown grace ends.
     */
    private boolean standing;
    /** The ids of the requests a POST stream answers that have no response relayed yet. */
    private java.util.List<JsonNode> unanswered = java.util.List.of();

    UpstreamCall(Forward forward, UpstreamRequest upstream, Inbound in, HttpHeaders cors, Forward.Done done, boolean mayRenew) {
        this.forward = forward;
        this.upstream = upstream;
        this.in = in;
        this.cors = cors;
        this.done = done;
        this.mayRenew = mayRenew;
        this.route = upstream.route(); // the route of the config in force when the request arrived (issue 14 reload)
        RequestHead head = upstream.head();
        this.target = upstream.revision().upstreamTarget(route, head, upstream.upstreamSessionId());
        this.origin = UpstreamPool.origin(target);
        this.responseTimeoutNanos = route.config().responseTimeout().toNanos();
    }

    // --- sending ---------------------------------------------------------------------------------

    void start() {
        forward.calls.add(this);
        in.onClose(this::clientGone);
        in.onWritable(this::clientWritable);
        Channel idle = forward.pool.idle(origin);
        if (idle != null) {
            reused = true;
            send(idle);
            return;
        }
        connect();
    }

    private void connect() {
        reused = false;
        ChannelFuture connecting;
        try {
            connecting = forward.pool.connect(in.loop(), target, (int) route.config().connectTimeout().toMillis());
        } catch (RuntimeException e) {
            fail(Forward.toFailure(e));
            return;
        }
        if (connecting.isDone()) {
            connected(connecting);
        } else {
            connecting.addListener(f -> connected((ChannelFuture) f));
        }
    }

    private void connected(ChannelFuture connecting) {
        if (over) {
            if (connecting.isSuccess()) {
                connecting.channel().close();
            }
            return;
        }
        if (!connecting.isSuccess()) {
            fail(Forward.toFailure(connecting.cause()));
            return;
        }
        send(connecting.channel());
    }

    private void send(Channel upstreamChannel) {
        channel = upstreamChannel;
        upstreamChannel.attr(UpstreamPool.HANDLER).get().call = this;
        FullHttpRequest request = request();
        sentNanos = System.nanoTime();
        lastReadNanos = sentNanos;
        upstreamChannel.writeAndFlush(request).addListener(written -> {
            if (!written.isSuccess() && channel == upstreamChannel) {
                upstreamClosed(written.cause());
            }
        });
        timeout = upstreamChannel.eventLoop().schedule(this::checkTimeout, responseTimeoutNanos, TimeUnit.NANOSECONDS);
    }

    /** The upstream request: the rewritten head and the exact body, written together. */
    private FullHttpRequest request() {
        RequestHead head = upstream.head();
        byte[] body = upstream.upstreamBody();
        String path = target.getRawPath() == null || target.getRawPath().isEmpty() ? "/" : target.getRawPath();
        String uri = target.getRawQuery() == null ? path : path + "?" + target.getRawQuery();
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, head.method(), uri,
                body.length == 0 ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
        HttpHeaders h = request.headers();
        HeaderRewrite.toUpstream(head.headers(), h, upstream.upstreamBearer(), head.clientAddress(), head.secure());
        // The revision's session and mirrored headers: the client holds the gateway's session id, the
        // upstream gets its own back (or none); 2026-07-28 headers are rebuilt from the body (V26-11).
        upstream.revision().upstreamHeaders(upstream.messages(), upstream.upstreamSessionId(), h);
        if (body.length > 0) {
            // Issue 12: the body is forwarded as what it was inspected as: UTF-8 JSON, not content-coded.
            h.set("Content-Type", dev.portcullis.inspect.JsonContentType.FORWARDED);
            h.remove("Content-Encoding");
        }
        int port = target.getPort();
        boolean defaultPort = port < 0 || (port == 80 && "http".equalsIgnoreCase(target.getScheme()))
                || (port == 443 && "https".equalsIgnoreCase(target.getScheme()));
        h.set("Host", defaultPort ? target.getHost() : target.getHost() + ":" + port);
        if (body.length > 0 || HttpMethod.POST.equals(head.method())) {
            h.setInt("Content-Length", body.length);
        }
        // Issue 15: with tracing on, the upstream's parent is the gateway's client span (the caller's tracestate passes).
        String traceparent = done.trace().upstreamCall(head.method().name(), target);
        if (traceparent != null) {
            h.set("traceparent", traceparent);
        }
        return request;
    }

    // --- receiving -------------------------------------------------------------------------------

    void upstreamRead(Object msg) {
        if (over) {
            ReferenceCountUtil.release(msg);
            return;
        }
        lastReadNanos = System.nanoTime();
        if (msg instanceof HttpResponse response) {
            head(response);
        }
        if (msg instanceof HttpContent content) {
            if (over || informational) {
                if (content instanceof LastHttpContent) {
                    informational = false;
                }
                content.release();
                return;
            }
            content(content);
        } else if (!(msg instanceof HttpResponse)) {
            ReferenceCountUtil.release(msg);
        }
    }

    private void head(HttpResponse upstreamHead) {
        if (upstreamHead.decoderResult().isFailure()) {
            failAndClose(GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE, "Upstream MCP server unavailable",
                    "malformed upstream response: " + upstreamHead.decoderResult().cause()));
            return;
        }
        int status = upstreamHead.status().code();
        if (status >= 100 && status < 200) {
            informational = true; // 100 Continue and the like: the real answer follows
            return;
        }
        result = new ForwardResult(status, sentNanos, System.nanoTime());
        upstreamKeepAlive = HttpUtil.isKeepAlive(upstreamHead);
        plan = ReplyPlan.of(upstream, upstreamHead, mayRenew, forward.sessions);
        if (plan.kind() == ReplyPlan.Kind.DISCARD) {
            mode = Mode.DRAIN;
            GatewayFailure refusal = plan.refusal();
            afterDrain = refusal == null ? this::renew : () -> done.failed(refusal);
            return;
        }
        boolean stream = ReplyPlan.isEventStream(upstreamHead.headers());
        // The standard reason phrase, whatever the upstream wrote (it may send none).
        HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(plan.status()));
        HttpHeaders out = head.headers();
        HeaderRewrite.toClient(upstreamHead.headers(), out, stream);
        if (!cors.isEmpty()) {
            out.add(cors);
        }
        String upstreamSession = upstreamHead.headers().get("Mcp-Session-Id");
        if (upstreamSession != null) {
            out.set("Mcp-Session-Id", forward.sessions.seal(upstreamSession, upstream.principal(), route.name()));
        }
        if (plan.lengthChanges()) {
            out.remove("Content-Length");
        }
        if (plan.contentType() != null) {
            out.set("Content-Type", plan.contentType());
        }
        switch (plan.kind()) {
            case WHOLE_BODY -> {
                mode = Mode.WHOLE;
                clientHead = head;
            }
            case PASS_THROUGH -> {
                mode = Mode.PASS;
                in.start(head, false);
            }
            default -> stream(head);
        }
    }

    private void stream(HttpResponse head) {
        mode = Mode.STREAM;
        cancelTimeout(); // a quiet stream is not cut: the response timeout only guards its head
        forward.streamOpened(this);
        standing = plan.standing();
        unanswered = plan.awaited().isEmpty() ? java.util.List.of() : new java.util.ArrayList<>(plan.awaited());
        in.start(head, true);
        endpoints = plan.step(EndpointRewrite.class);
        subscription = plan.step(SubscriptionEvents.class);
        if (plan.framesEvents()) {
            // Re-framed into whole events: events are rewritten one by one, the gateway can tell which requests
            // are answered, and can add an event of its own at an event boundary (issue 14).
            framer = new SseEvents.Framer();
        }
        java.util.List<byte[]> opening = plan.opening();
        if (!opening.isEmpty()) {
            for (byte[] event : opening) {
                if (!unanswered.isEmpty()) {
                    Drain.answered(event, unanswered); // answered here: no second error at the end of a drain
                }
                in.send(Unpooled.wrappedBuffer(event), false);
            }
            in.flush();
        }
        if (subscription != null && subscription.listChanges()) {
            // V26-34: registered while the stream is relayed, so the registry holds open streams only;
            // gateway-made list_changed events join once the upstream's acknowledgment (its first event) passed.
            listen = forward.listenStreams.register(route.name(), upstream.principal().asSubject(),
                    subscription.notifications(), subscription.subscriptionId());
            if (listen != null) {
                listen.onEvent(() -> in.loop().execute(this::drainListen));
            }
        }
        if (forward.stopping && standing) {
            endStream();
            return;
        }
        TokenLifetimeEnd lifetime = plan.step(TokenLifetimeEnd.class);
        if (lifetime != null) {
            tokenEnd = in.loop().schedule(this::endStream, lifetime.nanosLeft(Instant.now()), TimeUnit.NANOSECONDS);
        }
    }

    private void content(HttpContent content) {
        if (content.decoderResult().isFailure()) {
            content.release();
            failAndClose(GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE, "Upstream MCP server unavailable",
                    "malformed upstream response body"));
            return;
        }
        boolean last = content instanceof LastHttpContent;
        ByteBuf data = content.content();
        switch (mode) {
            case DRAIN -> {
                content.release();
                if (last) {
                    drained();
                }
            }
            case WHOLE -> {
                long size = (whole == null ? 0 : whole.readableBytes()) + (long) data.readableBytes();
                if (size > plan.bodyLimit()) {
                    content.release();
                    failAndClose(GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE, "Upstream MCP server unavailable",
                            plan.tooLarge()));
                    return;
                }
                if (last && whole == null) {
                    answerWhole(data.retain());
                } else {
                    if (whole == null) {
                        whole = channel.alloc().compositeBuffer();
                    }
                    if (data.isReadable()) {
                        ((CompositeByteBuf) whole).addComponent(true, data.retain());
                    }
                    if (last) {
                        ByteBuf all = whole;
                        whole = null;
                        answerWhole(all);
                    }
                }
                content.release();
            }
            case PASS -> {
                if (data.isReadable()) {
                    in.send(data.retain(), true);
                }
                content.release();
                if (last) {
                    completed();
                } else {
                    backpressure();
                }
            }
            case STREAM -> {
                if (framer == null) {
                    if (data.isReadable()) {
                        in.send(data.retain(), true);
                    }
                    content.release();
                } else {
                    byte[] bytes = ByteBufUtil.getBytes(data);
                    content.release();
                    if (bytes.length > 0) {
                        framer.feed(bytes, this::relayEvent);
                        in.flush();
                    }
                    if (last) {
                        byte[] rest = framer.rest();
                        if (rest != null) {
                            // A trailing partial event is rewritten like any other: a lenient client may still read it.
                            relayEvent(rest);
                            in.flush();
                        }
                    }
                }
                if (last) {
                    completed();
                } else {
                    backpressure();
                }
            }
            default -> content.release();
        }
    }

    private void relayEvent(byte[] event) {
        if (endpoints != null) {
            String endpoint = endpoints.announced(event);
            if (endpoint != null) {
                // 2024-11-05: the gateway's refusals of messages POSTed for this stream are delivered on it.
                announcedEndpoint = endpoint;
                forward.legacyStreams.register(endpoint, injected);
            }
        }
        byte[] out = plan.event(event);
        if (out.length == 0) {
            return;
        }
        in.send(Unpooled.wrappedBuffer(out), false);
        if (!unanswered.isEmpty()) {
            Drain.answered(out, unanswered);
        }
        if (!firstRelayed) {
            firstRelayed = true;
            if (listen != null) {
                drainListen();
            }
        }
    }

    private void answerWhole(ByteBuf body) {
        ByteBuf content = body;
        if (plan.rewritesBody()) {
            byte[] transformed;
            try {
                transformed = plan.body(ByteBufUtil.getBytes(body));
            } catch (GatewayFailure refused) {
                failAndClose(refused);
                return;
            } finally {
                body.release();
            }
            content = Unpooled.wrappedBuffer(transformed);
        }
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, clientHead.status(), content,
                clientHead.headers(), EmptyHttpHeaders.INSTANCE);
        response.headers().remove("Transfer-Encoding");
        response.headers().setInt("Content-Length", content.readableBytes());
        in.respond(response);
        completed();
    }

    // --- endings ---------------------------------------------------------------------------------

    /** The upstream's answer was read to its end. */
    private void completed() {
        if (mode == Mode.STREAM) {
            in.end();
        } else if (mode == Mode.PASS) {
            in.end();
        }
        over = true;
        releaseUpstream(upstreamKeepAlive);
        cleanup();
        done.forwarded(result);
    }

    /** A refused credential's answer was read to its end: renew once, or fail. */
    private void drained() {
        over = true;
        releaseUpstream(upstreamKeepAlive);
        cleanup();
        afterDrain.run();
    }

    private void renew() {
        log.info("route={} upstream refused the gateway's token with 401; renewing it once", route.name());
        upstream.renewed().toFuture().whenComplete((renewed, e) -> in.loop().execute(() -> {
            if (!in.open()) {
                // Issue 18: the request still ends (its concurrency permits are given back, its audit written).
                done.failed(GatewayFailure.of(Reason.CLIENT_CLOSED_REQUEST, "Client closed the request",
                        "while the upstream token was renewed"));
                return;
            }
            if (e != null) {
                Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                done.failed(Forward.toFailure(cause).withJsonRpcId(errorId()));
                return;
            }
            new UpstreamCall(forward, renewed, in, cors, done, false).start();
        }));
    }

    /** The gateway ends an SSE relay (shutdown, token expiry): cleanly, with the listen result where one is due. */
    void endStream() {
        if (over) {
            return;
        }
        if (subscription != null) {
            in.send(Unpooled.wrappedBuffer(subscription.closing()), false);
        }
        in.end();
        over = true;
        releaseUpstream(false);
        cleanup();
        done.forwarded(result);
    }

    void endFromAnyThread() {
        in.loop().execute(this::endStream);
    }

    /** The gateway starts draining (issue 14): a standing stream ends now, the way its revision ends it. */
    void drainStarted() {
        in.loop().execute(() -> {
            if (mode == Mode.STREAM && standing) {
                endStream();
            }
        });
    }

    /**
     * The shutdown grace is over (issue 14): a stream gets a JSON-RPC error event for each request it has
     * not answered yet, then ends; a call whose answer has not started fails with the same error; a
     * legacy (2024-11-05) stream ends cleanly.
     */
    void graceOver() {
        in.loop().execute(() -> {
            if (over) {
                return;
            }
            if (mode == Mode.STREAM && !standing && !unanswered.isEmpty()) {
                for (JsonNode id : unanswered) {
                    in.send(Unpooled.wrappedBuffer(Drain.shuttingDownEvent(id)), false);
                }
                unanswered = java.util.List.of();
            }
            if (mode == Mode.STREAM) {
                endStream();
            } else if (!in.started()) {
                failAndClose(GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE, Drain.MESSAGE,
                        "the call did not finish within listen.shutdown-grace"));
            } else {
                failAndClose(GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE, Drain.MESSAGE,
                        "the answer did not finish within listen.shutdown-grace"));
            }
        });
    }

    /** The upstream connection closed or failed before the answer was read to its end. */
    void upstreamClosed(Throwable cause) {
        if (over) {
            return;
        }
        if (result == null && reused && !retried && !(cause instanceof ReadTimeoutException)) {
            // A kept-alive connection the upstream had closed: once more on a new one.
            retried = true;
            detach();
            cancelTimeout();
            connect();
            return;
        }
        failAndClose(Forward.toFailure(cause));
    }

    private void checkTimeout() {
        timeout = null;
        if (over || mode == Mode.STREAM) {
            return;
        }
        long quiet = System.nanoTime() - lastReadNanos;
        if (quiet >= responseTimeoutNanos) {
            failAndClose(GatewayFailure.of(Reason.UPSTREAM_TIMEOUT, "Upstream MCP server timed out", "upstream timeout"));
            return;
        }
        timeout = channel.eventLoop().schedule(this::checkTimeout, responseTimeoutNanos - quiet, TimeUnit.NANOSECONDS);
    }

    /** The client went away before its answer ended. */
    private void clientGone() {
        if (over) {
            return;
        }
        over = true;
        releaseUpstream(false);
        cleanup();
        // Not the upstream's failure (issue 12 item 9): audited as the client's leaving.
        done.failed(GatewayFailure.of(Reason.CLIENT_CLOSED_REQUEST, "Client closed the request",
                result == null ? "before the answer" : "while the answer was relayed"));
    }

    private void clientWritable() {
        if (!over && channel != null && !channel.config().isAutoRead()) {
            channel.config().setAutoRead(true);
        }
    }

    private void backpressure() {
        if (!in.writable() && channel != null && channel.config().isAutoRead()) {
            channel.config().setAutoRead(false);
        }
    }

    private void failAndClose(GatewayFailure failure) {
        if (over) {
            return;
        }
        over = true;
        releaseUpstream(false);
        cleanup();
        if (in.started()) {
            in.abort();
        }
        done.failed(failure.withJsonRpcId(errorId()));
    }

    private void fail(GatewayFailure failure) {
        failAndClose(failure);
    }

    private void releaseUpstream(boolean reusable) {
        Channel c = channel;
        if (c == null) {
            return;
        }
        detach();
        if (reusable) {
            forward.pool.release(origin, c);
        } else {
            c.close();
        }
    }

    private void detach() {
        Channel c = channel;
        channel = null;
        if (c != null) {
            UpstreamHandler handler = c.attr(UpstreamPool.HANDLER).get();
            if (handler != null && handler.call == this) {
                handler.call = null;
            }
        }
    }

    private void cleanup() {
        forward.calls.remove(this);
        cancelTimeout();
        if (tokenEnd != null) {
            tokenEnd.cancel(false);
            tokenEnd = null;
        }
        if (whole != null) {
            whole.release();
            whole = null;
        }
        if (announcedEndpoint != null) {
            forward.legacyStreams.unregister(announcedEndpoint, injected);
            announcedEndpoint = null;
        }
        if (listen != null) {
            listen.close();
            listen = null;
        }
        if (mode == Mode.STREAM) {
            forward.streamClosed(this);
        }
    }

    private void cancelTimeout() {
        if (timeout != null) {
            timeout.cancel(false);
            timeout = null;
        }
    }

    // --- gateway-made events ---------------------------------------------------------------------

    private void drainListen() {
        if (over || listen == null || !firstRelayed) {
            return;
        }
        boolean any = false;
        for (byte[] event : listen.drain()) {
            in.send(Unpooled.wrappedBuffer(event), false);
            any = true;
        }
        if (any) {
            in.flush();
        }
    }

    private void injectFromAnyThread(byte[] event) {
        in.loop().execute(() -> {
            if (!over && mode == Mode.STREAM) {
                in.send(Unpooled.wrappedBuffer(event), true);
            }
        });
    }

    private JsonNode errorId() {
        return upstream.errorId();
    }
}
