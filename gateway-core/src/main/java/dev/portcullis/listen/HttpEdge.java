package dev.portcullis.listen;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The end of the inbound pipeline, one per connection: reads each request's head once into a
 * {@link RequestHead}, its body into a bounded buffer, hands the request to the {@link RequestHandler}
 * and writes its answer. One request at a time: a pipelined request waits (queued, in order) until the
 * answer before it has been written to its end, so answers leave in request order.
 *
 * <ul>
 *   <li>body over {@code max-body-size}: the request is handed on at once as {@link Inbound.BodyState#TOO_LARGE}
 *       and the rest of the body is read and dropped;</li>
 *   <li>body not complete within {@code request-timeout}: handed on as {@link Inbound.BodyState#TIMED_OUT},
 *       answered at once, connection closed;</li>
 *   <li>an answer to a request whose body is still arriving is held until the body has been read (at most
 *       {@value #DISCARD_BODY_MILLIS} ms), or closing the connection with unread data would make the kernel
 *       send a reset that can destroy the answer before the client reads it;</li>
 *   <li>an idle connection (no request in progress) is closed after {@code idle-timeout}.</li>
 * </ul>
 */
final class HttpEdge extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(HttpEdge.class);
    static final long DISCARD_BODY_MILLIS = 2000;
    /** Pipelined messages held beyond this pause reading from the connection until they are worked off. */
    private static final int QUEUE_PAUSE = 64;

    private final RequestHandler handler;
    private final long maxBody;
    private final long requestTimeoutNanos;
    private final GatewayServer.Connections connections;
    private final NetworkConditions network;
    private ChannelHandlerContext ctx;
    /** A client abort or failed handshake on this connection was counted already. */
    private boolean counted;

    private Inbound current;
    private boolean dispatched;
    private ByteBuf bodyBuffer;
    private long bodyBytes;
    private ScheduledFuture<?> bodyDeadline;
    private FullHttpResponse heldAnswer;
    private ScheduledFuture<?> discardDeadline;
    private final ArrayDeque<Object> queued = new ArrayDeque<>(0);

    /** Set on a connection whose listener asks for client certificates: the bundles it was accepted under. */
    static final io.netty.util.AttributeKey<ClientTrust> CLIENT_TRUST = io.netty.util.AttributeKey.valueOf("portcullis.client-trust");
    /** The connection's client certificate, read at its first request (null: none presented, or none asked for). */
    private ClientCertificate clientCertificate;
    private boolean clientCertificateRead;
    private boolean paused;
    /** Issue 14: the gateway is shutting down; this connection closes once its answer in progress is written. */
    private boolean draining;

    /** The user event that starts a connection's drain ({@link GatewayServer#drain()}). */
    static final Object DRAIN = new Object() {
        @Override
        public String toString() {
            return "DRAIN";
        }
    };

    HttpEdge(RequestHandler handler, long maxBody, long requestTimeoutNanos, GatewayServer.Connections connections,
             NetworkConditions network) {
        this.handler = handler;
        this.network = network;
        this.maxBody = maxBody;
        this.requestTimeoutNanos = requestTimeoutNanos;
        this.connections = connections;
    }

    Channel channel() {
        return ctx.channel();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (current != null && current.requestRead) {
            // Pipelining: the next request waits until this answer has been written.
            queued.add(msg);
            if (queued.size() > QUEUE_PAUSE && !paused) {
                paused = true;
                ctx.channel().config().setAutoRead(false);
            }
            return;
        }
        process(msg);
    }

    private void process(Object msg) {
        if (msg instanceof HttpRequest request) {
            head(request);
        }
        if (msg instanceof HttpContent content) {
            content(content);
        } else if (!(msg instanceof HttpObject)) {
            ReferenceCountUtil.release(msg);
        }
    }

    private void head(HttpRequest request) {
        if (request.decoderResult().isFailure()) {
            Throwable cause = request.decoderResult().cause();
            HttpResponseStatus status = cause instanceof TooLongHttpLineException ? HttpResponseStatus.REQUEST_URI_TOO_LONG
                    : cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException
                            && !(cause instanceof TooLongHttpLineException) && String.valueOf(cause.getMessage()).contains("header")
                    ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE : HttpResponseStatus.BAD_REQUEST;
            log.debug("refused a request from {}: {} ({})", ctx.channel().remoteAddress(), status, cause.toString());
            refuseAndClose(status);
            return;
        }
        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
        String tls = ssl == null ? null : ssl.engine().getSession().getProtocol();
        InetSocketAddress peer = ctx.channel().remoteAddress() instanceof InetSocketAddress address ? address : null;
        RequestHead head = RequestHead.of(request, peer, tls, clientCertificate(ctx, ssl), HttpUtil.isKeepAlive(request));
        current = new Inbound(this, head, request.protocolVersion().equals(HttpVersion.HTTP_1_1));
        if (draining) {
            current.closeAfter = true;
        }
        connections.busy(+1);
        dispatched = false;
        bodyBytes = 0;
        long declared = HttpUtil.getContentLength(request, -1L);
        if (declared > maxBody) {
            current.bodyState = Inbound.BodyState.TOO_LARGE;
            dispatch();
        }
    }

    private void content(HttpContent content) {
        Inbound in = current;
        if (in == null || in.requestRead) {
            content.release(); // the rest of a refused request
            return;
        }
        if (content.decoderResult().isFailure()) {
            content.release();
            log.debug("refused a request body from {}: {}", ctx.channel().remoteAddress(), content.decoderResult().cause().toString());
            if (in.started()) {
                abort(in);
            } else {
                releaseBody();
                cancel();
                in.finished = true;
                refuseAndClose(HttpResponseStatus.BAD_REQUEST);
            }
            return;
        }
        ByteBuf data = content.content();
        boolean last = content instanceof LastHttpContent;
        if (in.bodyState == Inbound.BodyState.COMPLETE) {
            int n = data.readableBytes();
            bodyBytes += n;
            if (bodyBytes > maxBody) {
                in.bodyState = Inbound.BodyState.TOO_LARGE;
                releaseBody();
                if (!dispatched) {
                    dispatch();
                }
            } else if (n > 0) {
                if (last && bodyBuffer == null) {
                    in.body = ByteBufUtil.getBytes(data); // the usual case: the whole body in one piece
                } else {
                    if (bodyBuffer == null) {
                        bodyBuffer = ctx.alloc().heapBuffer((int) Math.min(maxBody, Math.max(1024, n * 2L)));
                    }
                    bodyBuffer.writeBytes(data);
                }
            }
        }
        content.release();
        if (!last) {
            return;
        }
        in.requestRead = true;
        cancelBodyDeadline();
        if (bodyBuffer != null) {
            in.body = ByteBufUtil.getBytes(bodyBuffer);
            releaseBody();
        }
        if (!dispatched) {
            dispatch();
        } else if (heldAnswer != null) {
            FullHttpResponse answer = heldAnswer;
            heldAnswer = null;
            cancelDiscard();
            writeAnswer(in, answer);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // The body deadline exists only for bodies that did not arrive with their head.
        Inbound in = current;
        if (in != null && !in.requestRead && bodyDeadline == null && in.bodyState != Inbound.BodyState.TIMED_OUT) {
            bodyDeadline = ctx.executor().schedule(this::bodyTooSlow, requestTimeoutNanos, TimeUnit.NANOSECONDS);
        }
        ctx.fireChannelReadComplete();
    }

    private void bodyTooSlow() {
        bodyDeadline = null;
        Inbound in = current;
        if (in == null || in.requestRead || !ctx.channel().isActive()) {
            return;
        }
        log.debug("{}: request body not complete within the request timeout", ctx.channel().remoteAddress());
        in.closeAfter = true;
        in.requestRead = true; // what still comes is dropped
        if (!dispatched) {
            releaseBody();
            in.bodyState = Inbound.BodyState.TIMED_OUT;
            dispatch();
        } else if (heldAnswer != null) {
            FullHttpResponse answer = heldAnswer;
            heldAnswer = null;
            cancelDiscard();
            writeAnswer(in, answer);
        }
    }

    private void dispatch() {
        dispatched = true;
        Inbound in = current;
        try {
            handler.handle(in);
        } catch (RuntimeException e) {
            log.error("unexpected failure on the request path", e);
            if (!in.started()) {
                in.respond(plain(HttpResponseStatus.INTERNAL_SERVER_ERROR));
            } else {
                in.abort();
            }
        }
    }

    // --- writing answers -------------------------------------------------------------------------

    void respond(Inbound in, FullHttpResponse response) {
        if (in != current || !ctx.channel().isActive()) {
            response.release();
            return;
        }
        if (!in.requestRead) {
            // Answered before its body arrived (refused early): read and drop the body first, briefly.
            in.closeAfter = true;
            heldAnswer = response;
            discardDeadline = ctx.executor().schedule(() -> {
                discardDeadline = null;
                if (heldAnswer != null && current == in) {
                    FullHttpResponse answer = heldAnswer;
                    heldAnswer = null;
                    in.requestRead = true;
                    writeAnswer(in, answer);
                }
            }, DISCARD_BODY_MILLIS, TimeUnit.MILLISECONDS);
            return;
        }
        writeAnswer(in, response);
    }

    private void writeAnswer(Inbound in, FullHttpResponse response) {
        HttpUtil.setKeepAlive(response, !in.closeAfter);
        in.finished = true;
        var written = ctx.writeAndFlush(response);
        finish(in, written);
    }

    void write(Inbound in, Object message, boolean flush) {
        if (in != current) {
            ReferenceCountUtil.release(message);
            return;
        }
        if (message instanceof io.netty.handler.codec.http.HttpResponse head && in.closeAfter) {
            HttpUtil.setKeepAlive(head, false);
        }
        if (flush) {
            ctx.writeAndFlush(message, ctx.voidPromise());
        } else {
            ctx.write(message, ctx.voidPromise());
        }
    }

    void flush(Inbound in) {
        if (in == current) {
            ctx.flush();
        }
    }

    void end(Inbound in, LastHttpContent last) {
        if (in != current) {
            return;
        }
        in.finished = true;
        finish(in, ctx.writeAndFlush(last));
    }

    void abort(Inbound in) {
        if (in == current) {
            in.finished = true;
            ctx.close();
        }
    }

    private void finish(Inbound in, io.netty.channel.ChannelFuture written) {
        if (in.closeAfter || !in.requestRead) {
            written.addListener(ChannelFutureListener.CLOSE);
        } else {
            written.addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
        }
        current = null;
        connections.busy(-1);
        cancel();
        if (in.closeAfter) {
            drop();
            return;
        }
        // The next pipelined request, if one is waiting.
        while (current == null || !current.requestRead) {
            Object next = queued.poll();
            if (next == null) {
                break;
            }
            process(next);
        }
        if (paused && queued.size() <= QUEUE_PAUSE / 2) {
            paused = false;
            ctx.channel().config().setAutoRead(true);
        }
    }

    private void refuseAndClose(HttpResponseStatus status) {
        Inbound in = current;
        if (in != null) {
            in.finished = true;
            current = null;
            connections.busy(-1);
        }
        drop();
        FullHttpResponse response = plain(status);
        response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }

    private static FullHttpResponse plain(HttpResponseStatus status) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status);
        response.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0);
        return response;
    }

    // --- connection events ----------------------------------------------------------------------

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        Inbound in = current;
        if (in != null) {
            in.writabilityChanged(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event == DRAIN) {
            draining = true;
            if (current == null && queued.isEmpty()) {
                ctx.close(); // idle: the client's next request opens a connection to another replica
            } else if (current != null) {
                current.closeAfter = true; // "Connection: close" on its answer, or a close after it
            }
            return;
        }
        if (event instanceof IdleStateEvent) {
            if (current == null && queued.isEmpty()) {
                log.debug("closing idle connection {}", ctx.channel().remoteAddress());
                ctx.close();
            }
            return;
        }
        ctx.fireUserEventTriggered(event);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        Inbound in = current;
        current = null;
        cancel();
        releaseBody();
        drop();
        if (in != null) {
            connections.busy(-1);
            if (!in.finished && !counted) {
                // The client went away before its answer ended (a FIN, not a reset): counted like one.
                counted = network.absorb(new java.nio.channels.ClosedChannelException(), "from " + ctx.channel().remoteAddress());
            }
            if (heldAnswer != null) {
                heldAnswer.release();
                heldAnswer = null;
            }
            in.closed();
        }
        ctx.fireChannelInactive();
    }

    /**
     * Issue 12 item 9: a connection reset by its client or a failed TLS handshake (scanners, plain HTTP on the
     * TLS port) closes the connection, counted and logged at DEBUG; anything else is logged as a warning,
     * one line.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!counted && network.absorb(cause, "from " + ctx.channel().remoteAddress())) {
            counted = true;
        } else if (!counted) {
            log.warn("connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
        }
        ctx.close();
    }

    private void drop() {
        Object next;
        while ((next = queued.poll()) != null) {
            ReferenceCountUtil.release(next);
        }
    }

    private void releaseBody() {
        if (bodyBuffer != null) {
            bodyBuffer.release();
            bodyBuffer = null;
        }
    }

    private void cancelBodyDeadline() {
        if (bodyDeadline != null) {
            bodyDeadline.cancel(false);
            bodyDeadline = null;
        }
    }

    private void cancelDiscard() {
        if (discardDeadline != null) {
            discardDeadline.cancel(false);
            discardDeadline = null;
        }
    }

    private void cancel() {
        cancelBodyDeadline();
        cancelDiscard();
    }

    /** Once per connection: what its client certificate says ({@link ClientTrust#identify}). */
    private ClientCertificate clientCertificate(ChannelHandlerContext ctx, SslHandler ssl) {
        if (!clientCertificateRead) {
            clientCertificateRead = true;
            ClientTrust trust = ssl == null ? null : ctx.channel().attr(CLIENT_TRUST).get();
            if (trust != null) {
                try {
                    clientCertificate = trust.identify(ssl.engine().getSession().getPeerCertificates());
                } catch (javax.net.ssl.SSLPeerUnverifiedException none) {
                    clientCertificate = null; // client-auth optional, and no certificate presented
                }
            }
        }
        return clientCertificate;
    }
}
