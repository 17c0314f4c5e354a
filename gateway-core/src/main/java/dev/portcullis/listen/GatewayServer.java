package dev.portcullis.listen;

import dev.portcullis.config.ListenConfig;
import dev.portcullis.config.TlsConfig;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stage 1: the public listener, a plain Netty pipeline (epoll when available, NIO otherwise; HTTP/1.1
 * only: no HTTP/2, so no rapid-reset exposure):
 *
 * <pre>
 *   [SslHandler] → head deadline → HttpServerCodec → framing guard → 100-continue → idle timer → {@link HttpEdge}
 * </pre>
 *
 * with TLS 1.2/1.3 termination from PEM files (or plain HTTP), and the limits that keep a hostile client
 * from desynchronising or exhausting it:
 *
 * <ul>
 *   <li>request line over 8 KiB → 414, header block over {@code max-header-size} → 431 (Netty's decoder);</li>
 *   <li>ambiguous framing → 400 and the connection closed: Content-Length with Transfer-Encoding,
 *       differing or repeated Content-Length, malformed chunk sizes, bare LF (Netty); and, added here,
 *       any Transfer-Encoding other than exactly {@code chunked} (400, or 501 for an unsupported coding
 *       before a final {@code chunked}: RFC 9112 §6.1/§6.3), and an HTTP/1.1 request without exactly
 *       one {@code Host} header (RFC 9112 §3.2), so no front proxy can read a request differently;</li>
 *   <li>the request head must arrive within {@code request-timeout} of its first byte (408 and
 *       close otherwise: slow-loris headers), the body within {@code request-timeout} too, at most
 *       {@code max-body-size} of it ({@link HttpEdge}), and an idle kept-alive connection is closed after
 *       {@code idle-timeout}.</li>
 * </ul>
 */
public final class GatewayServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GatewayServer.class);

    private final Channel server;
    private final EventLoopGroup acceptor;
    private final EventLoopGroup workers;
    /** Set by {@link #closeConnections} (once: the acceptor it stops cannot close the listener twice). */
    private boolean connectionsClosed;
    private final Connections connections;
    /** The TLS context new connections use (null: plain HTTP); replaced by {@link #replaceTls} (issue 14). */
    private final java.util.concurrent.atomic.AtomicReference<ListenerTls> tls;

    /** Every open connection, and how many of them have a request in progress (graceful shutdown waits for those). */
    static final class Connections {
        final ChannelGroup open = new DefaultChannelGroup("portcullis-connections", GlobalEventExecutor.INSTANCE);
        private final AtomicInteger busy = new AtomicInteger();

        void busy(int delta) {
            busy.addAndGet(delta);
        }
    }

    private GatewayServer(Channel server, EventLoopGroup acceptor, EventLoopGroup workers, Connections connections,
                          java.util.concurrent.atomic.AtomicReference<ListenerTls> tls) {
        this.tls = tls;
        this.server = server;
        this.acceptor = acceptor;
        this.workers = workers;
        this.connections = connections;
    }

    /**
     * Binds the listener; every request goes to {@code handler} on its connection's event loop.
     *
     * @param threads event loops for connections (and their upstream connections); 0 for one per CPU
     */
    public static GatewayServer bind(ListenConfig config, int threads, NetworkConditions network, RequestHandler handler) {
        EventLoopGroup workers = workers(threads);
        try {
            return bind(config, workers, network, handler);
        } catch (RuntimeException e) {
            workers.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            throw e;
        }
    }

    /**
     * The worker event loops {@link #bind} serves connections on, made before the listener so other parts can live
     * on them too (issue 18: the shared store's Redis connection, so a call's limits are written and answered on
     * the gateway's own loops, with no hop to another thread).
     *
     * @param threads 0 for one per CPU ({@code -Dportcullis.io-threads} overrides)
     */
    public static EventLoopGroup workers(int threads) {
        return Transport.group("io", threads > 0 ? threads : defaultThreads());
    }

    /**
     * As {@link #bind(ListenConfig, int, NetworkConditions, RequestHandler)}, on {@code workers} (from
     * {@link #workers(int)}); once bound, the server owns them ({@link #close()} stops them); when binding fails, the
     * caller still does.
     */
    public static GatewayServer bind(ListenConfig config, EventLoopGroup workers, NetworkConditions network,
                                     RequestHandler handler) {
        var tls = new java.util.concurrent.atomic.AtomicReference<>(tls(config.tls()));
        Connections connections = new Connections();
        EventLoopGroup acceptor = Transport.group("accept", 1);
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(acceptor, workers)
                .channel(Transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        connections.open.add(channel);
                        ListenerTls current = tls.get();
                        if (current != null) {
                            channel.pipeline().addLast("tls", current.context().newHandler(channel.alloc()));
                            if (current.clients() != null) {
                                channel.attr(HttpEdge.CLIENT_TRUST).set(current.clients()); // the bundles this connection was accepted under
                            }
                        }
                        http(channel.pipeline(), config, handler, connections, network);
                    }
                });
        try {
            io.netty.channel.ChannelFuture bound = bootstrap.bind(new InetSocketAddress(config.host(), config.port()))
                    .awaitUninterruptibly();
            if (!bound.isSuccess()) {
                // A checked IOException (port in use) must not escape unchecked: callers name the listener and the cause.
                Throwable cause = bound.cause();
                throw cause instanceof java.io.IOException io ? new java.io.UncheckedIOException(io.getMessage(), io)
                        : cause instanceof RuntimeException r ? r : new IllegalStateException(cause);
            }
            return new GatewayServer(bound.channel(), acceptor, workers, connections, tls);
        } catch (RuntimeException e) {
            acceptor.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            throw e;
        }
    }

    /**
     * The HTTP part of a connection's pipeline (after TLS): head deadline, codec with the limits, framing
     * guard, 100-continue, idle timer, {@link HttpEdge}. Public for tests that drive it in memory
     * ({@code EmbeddedChannel}), without sockets.
     */
    public static void http(ChannelPipeline pipeline, ListenConfig config, RequestHandler handler) {
        http(pipeline, config, handler, new Connections(), NetworkConditions.unscraped());
    }

    private static void http(ChannelPipeline pipeline, ListenConfig config, RequestHandler handler, Connections connections,
                             NetworkConditions network) {
        long timeoutNanos = config.requestTimeout().toNanos();
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(8192)
                .setMaxHeaderSize((int) config.maxHeaderSize().bytes())
                .setValidateHeaders(true);
        RequestGuard guard = new RequestGuard(timeoutNanos);
        pipeline.addLast("headDeadline", guard.bytes);
        pipeline.addLast("http", new HttpServerCodec(decoder));
        pipeline.addLast("framing", guard.messages);
        pipeline.addLast("continue", new HttpServerExpectContinueHandler());
        pipeline.addLast("idle", new IdleStateHandler(0, 0, Math.max(1, config.idleTimeout().toSeconds()), TimeUnit.SECONDS));
        pipeline.addLast("edge", new HttpEdge(handler, config.maxBodySize().bytes(), timeoutNanos, connections, network));
    }

    /**
     * One event loop per CPU the JVM may use (a container's CPU limit counts: a one-CPU pod gets one
     * loop); {@code -Dportcullis.io-threads=N} overrides. Measured (bench/RESULTS.md, issue 13): on a
     * gateway pinned to one CPU, one loop served the full path faster and at less CPU per request than
     * four (the old default, copied from Reactor Netty), which only added context switches.
     */
    static int defaultThreads() {
        Integer configured = Integer.getInteger("portcullis.io-threads");
        return configured != null && configured > 0 ? configured : Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /**
     * Builds the TLS context as {@link #bind} will, so a certificate or key that cannot be used (not
     * PEM, not PKCS#8, a key that does not match the certificate) is found by {@code check}, not at bind.
     *
     * @throws IllegalArgumentException with a one-line reason
     */
    public static void validateTls(TlsConfig tls) {
        try {
            tls(tls);
            if (!keyBelongsToCertificate(tls)) {
                throw new IllegalArgumentException("listen.tls: " + tls.privateKey() + " is not the private key of the"
                        + " certificate in " + tls.certificate() + " (expected: the key the certificate was issued for)");
            }
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (RuntimeException e) {
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            throw new IllegalArgumentException("listen.tls: " + tls.certificate() + " and " + tls.privateKey()
                    + " cannot be used for TLS (" + root.getClass().getSimpleName()
                    + (root.getMessage() == null ? "" : ": " + root.getMessage().replaceAll("[\\r\\n]+", " ")) + ")");
        }
    }

    /**
     * Whether the key signs what the certificate's public key verifies (the JDK's key managers do not
     * check this: a mismatched pair loads and then fails every handshake). True when the key is of a
     * kind this check does not read (the handshake is then the judge).
     */
    private static boolean keyBelongsToCertificate(TlsConfig tls) {
        java.security.PrivateKey key;
        java.security.cert.Certificate certificate;
        try (var in = java.nio.file.Files.newInputStream(tls.certificate())) {
            key = dev.portcullis.config.PrivateKeyFile.read("private-key", tls.privateKey()).key();
            certificate = java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in);
        } catch (java.io.IOException | java.security.GeneralSecurityException | RuntimeException unreadable) {
            return true;
        }
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            default -> null;
        };
        if (algorithm == null) {
            return true;
        }
        try {
            byte[] probe = "portcullis tls key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            java.security.Signature signer = java.security.Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            java.security.Signature verifier = java.security.Signature.getInstance(algorithm);
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(probe);
            return verifier.verify(signature);
        } catch (java.security.GeneralSecurityException mismatch) {
            return false;
        }
    }

    /** The listener's TLS: the context new connections use, and the client-certificate bundles (null: none asked for). */
    record ListenerTls(SslContext context, ClientTrust clients) {}

    private static ListenerTls tls(TlsConfig tls) {
        if (tls == null) {
            return null;
        }
        ClientTrust clients;
        try {
            clients = tls.clientAuthMode() == TlsConfig.ClientAuth.NONE ? null : ClientTrust.of(tls);
        } catch (IllegalArgumentException e) {
            // A one-line reason naming the field; validateTls passes IllegalArgumentExceptions on as they are.
            throw new IllegalArgumentException("listen.tls.client-trust: " + e.getMessage(), e);
        }
        try {
            SslContextBuilder builder = SslContextBuilder.forServer(tls.certificate().toFile(), tls.privateKey().toFile())
                    .protocols("TLSv1.3", "TLSv1.2");
            if (clients != null) {
                // Issue 16: mutual TLS. The trust manager accepts a chain to one client-trust bundle (and a pinned bundle's
                // SVIDs of its trust domain only); optional still serves a connection that presents no certificate.
                builder.trustManager(clients.trustManager())
                        .clientAuth(tls.clientAuthMode() == TlsConfig.ClientAuth.REQUIRED
                                ? io.netty.handler.ssl.ClientAuth.REQUIRE : io.netty.handler.ssl.ClientAuth.OPTIONAL);
            }
            return new ListenerTls(builder.build(), clients);
        } catch (SSLException | IllegalArgumentException e) {
            throw new IllegalStateException("cannot load the TLS certificate or key: " + e.getMessage(), e);
        }
    }

    /**
     * Issue 14: new connections use this certificate and key from now on (open ones keep theirs). Validate
     * first ({@link #validateTls}).
     *
     * @throws IllegalStateException when the listener serves plain HTTP (TLS cannot be turned on live)
     */
    public void replaceTls(TlsConfig config) {
        if (tls.get() == null || config == null) {
            throw new IllegalStateException("listen.tls cannot be turned on or off live");
        }
        tls.set(tls(config));
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** The event loops that serve connections (upstream connections of a request use its connection's loop). */
    public EventLoopGroup workers() {
        return workers;
    }

    /** Requests in progress right now. */
    public int busy() {
        return connections.busy.get();
    }

    /**
     * Issue 14: stops accepting connections, closes idle ones, and marks the others to close once the
     * answer in progress on each has been written (so clients move to another replica).
     */
    public void drain() {
        stopAccepting();
        for (Channel channel : connections.open) {
            channel.pipeline().fireUserEventTriggered(HttpEdge.DRAIN);
        }
    }

    /** Stops accepting connections; open ones are untouched. */
    public void stopAccepting() {
        server.close().syncUninterruptibly();
    }

    /**
     * Waits until no request is in progress, at most {@code grace}; false when some still were.
     * Call {@link #stopAccepting()} first.
     */
    public boolean awaitIdle(Duration grace) {
        long deadline = System.nanoTime() + grace.toNanos();
        while (connections.busy.get() > 0) {
            if (System.nanoTime() >= deadline) {
                return false;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** Blocks until the listener has been closed. */
    public void awaitClosed() {
        server.closeFuture().syncUninterruptibly();
        workers.terminationFuture().syncUninterruptibly();
    }

    /**
     * Closes the listener and every connection, and stops the acceptor; the worker loops keep running (until
     * {@link #close()}) for what else lives on them: a shared store's connection gives its leases back on them.
     */
    public synchronized void closeConnections() {
        if (connectionsClosed) {
            return;
        }
        connectionsClosed = true;
        server.close().syncUninterruptibly();
        connections.open.close().awaitUninterruptibly(5000);
        acceptor.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    }

    /** Closes the listener and every connection, and stops the event loops. */
    @Override
    public void close() {
        closeConnections();
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5000);
    }

    /**
     * Two handlers around the HTTP codec sharing one connection's state: the one before it sees bytes
     * (and starts the head deadline at the first byte of a request), the one after it sees decoded
     * requests (stops the deadline, checks framing headers).
     */
    static final class RequestGuard {
        private static final byte[] REQUEST_TIMEOUT = ("HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n"
                + "connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII);

        private final long headTimeoutNanos;
        private boolean awaitingHead = true;
        private boolean refused;
        /** Requests whose response has not been written to the end yet (pipelining, long SSE streams). */
        private int responsesPending;
        private ScheduledFuture<?> deadline;

        final ChannelDuplexHandler bytes = new ChannelDuplexHandler() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (refused) {
                    ReferenceCountUtil.release(msg);
                    return;
                }
                if (awaitingHead && deadline == null && msg instanceof ByteBuf buf && buf.isReadable()) {
                    deadline = ctx.executor().schedule(() -> headTooSlow(ctx), headTimeoutNanos, TimeUnit.NANOSECONDS);
                }
                ctx.fireChannelRead(msg);
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                cancelDeadline();
                ctx.fireChannelInactive();
            }
        };

        final ChannelDuplexHandler messages = new ChannelDuplexHandler() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) {
                if (msg instanceof LastHttpContent && responsesPending > 0) {
                    responsesPending--;
                }
                ctx.write(msg, promise);
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (refused) {
                    ReferenceCountUtil.release(msg);
                    return;
                }
                if (msg instanceof HttpRequest request) {
                    awaitingHead = false;
                    responsesPending++;
                    cancelDeadline();
                    HttpResponseStatus refusal = request.decoderResult().isSuccess() ? framingRefusal(request) : null;
                    if (refusal != null) {
                        refused = true;
                        ReferenceCountUtil.release(msg);
                        log.debug("refused a request from {}: {} (ambiguous framing or Host)", ctx.channel().remoteAddress(), refusal);
                        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, refusal);
                        response.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0)
                                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
                        return;
                    }
                }
                if (msg instanceof LastHttpContent) {
                    awaitingHead = true; // the next bytes start the next request
                }
                ctx.fireChannelRead(msg);
            }
        };

        RequestGuard(long headTimeoutNanos) {
            this.headTimeoutNanos = headTimeoutNanos;
        }

        private void cancelDeadline() {
            if (deadline != null) {
                deadline.cancel(false);
                deadline = null;
            }
        }

        private void headTooSlow(ChannelHandlerContext ctx) {
            deadline = null;
            if (!awaitingHead || refused || !ctx.channel().isActive()) {
                return;
            }
            refused = true;
            log.debug("closing {}: request head not complete within the request timeout", ctx.channel().remoteAddress());
            if (responsesPending > 0) {
                ctx.close(); // a response is still being written: a 408 now would land in the middle of it
                return;
            }
            ctx.writeAndFlush(Unpooled.wrappedBuffer(REQUEST_TIMEOUT)).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** Null when the request's framing headers are unambiguous; otherwise the status to refuse it with. */
    static HttpResponseStatus framingRefusal(HttpRequest request) {
        List<String> codings = new ArrayList<>();
        for (String value : request.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING)) {
            for (String coding : value.split(",", -1)) {
                codings.add(coding.strip().toLowerCase(Locale.ROOT));
            }
        }
        if (!codings.isEmpty() && !codings.equals(List.of("chunked"))) {
            boolean chunkedLast = codings.get(codings.size() - 1).equals("chunked")
                    && codings.stream().filter(c -> c.equals("chunked")).count() == 1
                    && codings.stream().allMatch(c -> c.matches("[a-z0-9!#$%&'*+.^_`|~-]+"));
            return chunkedLast ? HttpResponseStatus.NOT_IMPLEMENTED : HttpResponseStatus.BAD_REQUEST;
        }
        if (request.protocolVersion().equals(HttpVersion.HTTP_1_1) && request.headers().getAll(HttpHeaderNames.HOST).size() != 1) {
            return HttpResponseStatus.BAD_REQUEST;
        }
        return null;
    }
}
