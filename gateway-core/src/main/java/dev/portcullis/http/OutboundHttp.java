package dev.portcullis.http;

import io.netty.channel.ChannelOption;
import io.netty.resolver.AddressResolverGroup;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import reactor.core.publisher.Mono;
import reactor.netty.http.HttpResources;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * The client for fetches the gateway makes on configuration's behalf (issuer metadata, JWKS, token
 * endpoint requests), hardened against SSRF (SECURITY-03):
 * <ul>
 *   <li>only configured (or, for JWKS, discovered and checked) http(s) URLs are fetched;</li>
 *   <li>redirects are never followed: a 3xx is a failed fetch;</li>
 *   <li>every address connected to has passed the {@link OutboundAddressPolicy} (private, loopback,
 *       link-local, multicast and other non-public addresses refused unless allowed), checked on the
 *       resolved address that is then used ({@link GuardedAddressResolverGroup});</li>
 *   <li>responses are capped at {@value #MAX_RESPONSE_BYTES} bytes and a {@link #get} must complete
 *       (connect, headers and the whole body) within the response timeout, so a trickling body
 *       cannot hold a fetch open.</li>
 * </ul>
 * Non-blocking: results arrive as {@link Mono}s.
 */
public final class OutboundHttp {
    /** Metadata documents and key sets are small; anything bigger is refused. */
    public static final int MAX_RESPONSE_BYTES = 512 * 1024;

    private final HttpClient client;
    private final ConnectionProvider pool;
    private final Duration responseTimeout;
    /** Client spans for these fetches (issue 15); set once at start. */
    private volatile dev.portcullis.trace.Tracing tracing = dev.portcullis.trace.Tracing.OFF;

    /** Public addresses and loopback addresses named literally in the URL (tests, local tools). */
    public OutboundHttp(Duration connectTimeout, Duration responseTimeout) {
        this("portcullis-outbound", 16, connectTimeout, responseTimeout);
    }

    /** Public addresses and loopback addresses named literally in the URL (tests, local tools). */
    public OutboundHttp(String name, int maxConnections, Duration connectTimeout, Duration responseTimeout) {
        this(name, maxConnections, connectTimeout, responseTimeout, OutboundAddressPolicy.loopbackLiteralsAllowed(), null);
    }

    /**
     * @param name            the connection pool's name (metrics)
     * @param maxConnections  pooled connections; up to 64 times as many requests may wait for one
     * @param responseTimeout a {@link #get} must finish within it; no read may wait longer than it
     * @param policy          the addresses that may be connected to
     * @param names           resolves host names (null: Reactor Netty's non-blocking DNS resolver); its
     *                        answers are checked against {@code policy} before use
     */
    public OutboundHttp(String name, int maxConnections, Duration connectTimeout, Duration responseTimeout,
                        OutboundAddressPolicy policy, AddressResolverGroup<InetSocketAddress> names) {
        this.responseTimeout = responseTimeout;
        this.pool = ConnectionProvider.builder(name).maxConnections(maxConnections)
                .pendingAcquireMaxCount(64 * maxConnections)
                .maxIdleTime(Duration.ofSeconds(30)).build();
        this.client = HttpClient.create(pool)
                .resolver(new GuardedAddressResolverGroup(names != null ? names : defaultResolver(), policy))
                .followRedirect(false)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .responseTimeout(responseTimeout)
                .headers(h -> h.set("Accept", "application/json").set("User-Agent", "portcullis"));
    }

    /** Each fetch becomes a client span of {@code tracing}, child of the context current when it is asked for. */
    public OutboundHttp traced(dev.portcullis.trace.Tracing tracing) {
        this.tracing = tracing;
        return this;
    }

    /** A non-2xx answer from a fetched URL; carries the status only, never the body. */
    public static final class HttpStatusException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final int status;

        public HttpStatusException(URI uri, int status) {
            super("GET " + uri + " answered " + status, null, false, false);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    @SuppressWarnings("unchecked")
    private static AddressResolverGroup<InetSocketAddress> defaultResolver() {
        return (AddressResolverGroup<InetSocketAddress>) HttpResources.get().getOrCreateDefaultResolver();
    }

    private static Mono<Void> checkScheme(URI uri) {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!(scheme.equals("https") || scheme.equals("http")) || uri.getHost() == null) {
            return Mono.error(new IllegalArgumentException("only absolute http(s) URLs are fetched, not " + uri));
        }
        return Mono.empty();
    }

    /**
     * GET a URL and return its body; non-200 answers (redirects included), oversized bodies, refused
     * addresses and fetches taking longer than the response timeout fail the Mono.
     */
    public Mono<byte[]> get(URI uri) {
        return tracing.clientCall("GET", uri, fetch(uri), body -> 200);
    }

    private Mono<byte[]> fetch(URI uri) {
        return checkScheme(uri).then(client.get().uri(uri)
                .response((response, body) -> {
                    if (response.status().code() != 200) {
                        return body.then(Mono.error(new HttpStatusException(uri, response.status().code())));
                    }
                    return BoundedBody.collect(body, MAX_RESPONSE_BYTES);
                })
                .next())
                .timeout(responseTimeout);
    }

    /** An answer of any status, with its body (capped at {@link #MAX_RESPONSE_BYTES}). */
    public record Response(int status, String contentType, byte[] body) {
        @Override
        public String toString() {
            return "Response[status=" + status + ", contentType=" + contentType + ", " + body.length + " bytes]";
        }
    }

    /**
     * POST an {@code application/x-www-form-urlencoded} body (a token request). Every status is
     * returned as a {@link Response}; connection failures, timeouts and oversized bodies fail the Mono.
     * Neither the form nor the answer is logged or cached here (they carry credentials: SECURITY-05).
     *
     * @param form    the encoded form
     * @param headers extra request headers (e.g. {@code Authorization: Basic ...})
     * @param timeout the whole exchange (connect, send, headers and body) must finish within it
     */
    public Mono<Response> postForm(URI uri, String form, Map<String, String> headers, Duration timeout) {
        byte[] bytes = form.getBytes(StandardCharsets.US_ASCII);
        return tracing.clientCall("POST", uri, checkScheme(uri).then(client
                .headers(h -> {
                    h.set("Content-Type", "application/x-www-form-urlencoded");
                    h.set("Cache-Control", "no-store");
                    headers.forEach(h::set);
                })
                .post().uri(uri)
                .send((request, out) -> out.sendByteArray(Mono.just(bytes)))
                .response((response, body) -> BoundedBody.collect(body, MAX_RESPONSE_BYTES)
                        .map(b -> new Response(response.status().code(), response.responseHeaders().get("Content-Type", ""), b)))
                .next())
                .timeout(timeout), Response::status);
    }

    public void close() {
        pool.dispose();
    }
}
