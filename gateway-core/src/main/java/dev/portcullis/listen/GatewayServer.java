package dev.portcullis.listen;

import dev.portcullis.config.ListenConfig;
import dev.portcullis.config.TlsConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.reactivestreams.Publisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.netty.DisposableServer;
import reactor.netty.NettyPipeline;
import reactor.netty.http.Http11SslContextSpec;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;

/**
 * Stage 1: the public listener. Reactor Netty {@link HttpServer} (HTTP/1.1 only: no HTTP/2, so no
 * rapid-reset exposure) with TLS 1.2/1.3 termination from PEM files (or plain HTTP), and the limits
 * that keep a hostile client from desynchronising or exhausting it:
 *
 * <ul>
 *   <li>request line over 8 KiB → 414, header block over {@code max-header-size} → 431 (Netty);</li>
 *   <li>ambiguous framing → 400 and the connection closed: Content-Length with Transfer-Encoding,
 *       differing or repeated Content-Length, malformed chunk sizes, bare LF (Netty); and, added here,
 *       any Transfer-Encoding other than exactly {@code chunked} (400, or 501 for an unsupported coding
 *       before a final {@code chunked}: RFC 9112 §6.1/§6.3), and an HTTP/1.1 request without exactly
 *       one {@code Host} header (RFC 9112 §3.2), so no front proxy can read a request differently;</li>
 *   <li>the request head must arrive within {@code request-timeout} of its first byte (408 and
 *       close otherwise: slow-loris headers), the body within {@code request-timeout} too (Reactor
 *       Netty), and an idle kept-alive connection is closed after {@code idle-timeout}.</li>
 * </ul>
 */
public final class GatewayServer {
    private static final Logger log = LoggerFactory.getLogger(GatewayServer.class);

    private GatewayServer() {}

    /**
     * @param connections every accepted connection joins this group: graceful shutdown waits for them
     *                    (Reactor Netty's {@code disposeNow} only waits when a group is set) and then
     *                    closes the ones still open after the grace period
     */
    public static DisposableServer bind(ListenConfig config, ChannelGroup connections, NetworkConditions network,
                                        BiFunction<HttpServerRequest, HttpServerResponse, Publisher<Void>> handler) {
        long headTimeoutNanos = config.requestTimeout().toNanos();
        HttpServer server = HttpServer.create()
                .channelGroup(connections)
                .host(config.host())
                .port(config.port())
                .idleTimeout(config.idleTimeout())
                // The whole body within request-timeout (408 otherwise). No readTimeout beside it: with the
                // same value it could never fire first, and each one is a handler and a timer per request.
                .requestTimeout(config.requestTimeout())
                .httpRequestDecoder(spec -> spec
                        .maxHeaderSize((int) config.maxHeaderSize().bytes())
                        .maxInitialLineLength(8192)
                        .validateHeaders(true))
                .doOnChannelInit((observer, channel, remoteAddress) -> {
                    guard(channel.pipeline(), headTimeoutNanos);
                    quietNetworkErrors(channel.pipeline(), network);
                })
                .handle(handler);
        TlsConfig tls = config.tls();
        if (tls != null) {
            Http11SslContextSpec spec = tlsSpec(tls);
            server = server.secure(ssl -> ssl.sslContext(spec));
        }
        return server.bindNow(Duration.ofSeconds(15));
    }

    private static Http11SslContextSpec tlsSpec(TlsConfig tls) {
        return Http11SslContextSpec
                .forServer(tls.certificate().toFile(), tls.privateKey().toFile())
                .configure(builder -> builder.protocols("TLSv1.3", "TLSv1.2"));
    }

    /**
     * Builds the TLS context as {@link #bind} will, so a certificate or key that cannot be used (not
     * PEM, not PKCS#8, a key that does not match the certificate) is found by {@code check}, not at bind.
     *
     * @throws IllegalArgumentException with a one-line reason
     */
    public static void validateTls(TlsConfig tls) {
        try {
            tlsSpec(tls).sslContext();
            if (!keyBelongsToCertificate(tls)) {
                throw new IllegalArgumentException("listen.tls: " + tls.privateKey() + " is not the private key of the"
                        + " certificate in " + tls.certificate() + " (expected: the key the certificate was issued for)");
            }
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (javax.net.ssl.SSLException | RuntimeException e) {
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

    /**
     * Issue 12 item 9: a connection reset by its client or a failed TLS handshake (scanners, plain HTTP on
     * the TLS port) closes the connection, counted and logged at DEBUG, instead of reaching Reactor Netty's
     * handler, which logs some of them as errors with a stack trace each. Anything else passes on.
     */
    private static void quietNetworkErrors(ChannelPipeline pipeline, NetworkConditions network) {
        ChannelDuplexHandler quiet = new ChannelDuplexHandler() {
            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                if (network.absorb(cause, "from " + ctx.channel().remoteAddress())) {
                    ctx.close();
                    return;
                }
                ctx.fireExceptionCaught(cause);
            }
        };
        if (pipeline.get(NettyPipeline.ReactiveBridge) != null) {
            pipeline.addBefore(NettyPipeline.ReactiveBridge, "portcullis.quietNetworkErrors", quiet);
        } else {
            pipeline.addLast("portcullis.quietNetworkErrors", quiet);
        }
    }

    private static void guard(ChannelPipeline pipeline, long headTimeoutNanos) {
        if (pipeline.get(NettyPipeline.HttpCodec) == null) {
            return;
        }
        RequestGuard guard = new RequestGuard(headTimeoutNanos);
        pipeline.addBefore(NettyPipeline.HttpCodec, "portcullis.requestHeadDeadline", guard.bytes);
        pipeline.addAfter(NettyPipeline.HttpCodec, "portcullis.requestFraming", guard.messages);
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
