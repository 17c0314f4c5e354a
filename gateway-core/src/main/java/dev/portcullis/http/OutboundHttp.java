package dev.portcullis.http;

import io.netty.channel.ChannelOption;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * The client for fetches the gateway makes on configuration's behalf (issuer metadata, JWKS, token
 * endpoint requests).
 * Only configured URLs are fetched; redirects are never followed; responses are capped in size
 * and time (SECURITY-03). Non-blocking: results arrive as {@link Mono}s.
 */
public final class OutboundHttp {
    /** Metadata documents and key sets are small; anything bigger is refused. */
    public static final int MAX_RESPONSE_BYTES = 512 * 1024;

    private final HttpClient client;
    private final ConnectionProvider pool;

    public OutboundHttp(Duration connectTimeout, Duration responseTimeout) {
        this("portcullis-outbound", 16, connectTimeout, responseTimeout);
    }

    /**
     * @param name           the connection pool's name (metrics)
     * @param maxConnections pooled connections; up to 64 times as many requests may wait for one
     */
    public OutboundHttp(String name, int maxConnections, Duration connectTimeout, Duration responseTimeout) {
        this.pool = ConnectionProvider.builder(name).maxConnections(maxConnections)
                .pendingAcquireMaxCount(64 * maxConnections)
                .maxIdleTime(Duration.ofSeconds(30)).build();
        this.client = HttpClient.create(pool)
                .followRedirect(false)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .responseTimeout(responseTimeout)
                .headers(h -> h.set("Accept", "application/json").set("User-Agent", "portcullis"));
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

    /** GET a URL and return its body; non-200 answers and oversized bodies fail the Mono. */
    public Mono<byte[]> get(URI uri) {
        return client.get().uri(uri)
                .response((response, body) -> {
                    if (response.status().code() != 200) {
                        return body.then(Mono.error(new HttpStatusException(uri, response.status().code())));
                    }
                    return BoundedBody.collect(body, MAX_RESPONSE_BYTES);
                })
                .next();
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
        return client
                .headers(h -> {
                    h.set("Content-Type", "application/x-www-form-urlencoded");
                    h.set("Cache-Control", "no-store");
                    headers.forEach(h::set);
                })
                .post().uri(uri)
                .send((request, out) -> out.sendByteArray(Mono.just(bytes)))
                .response((response, body) -> BoundedBody.collect(body, MAX_RESPONSE_BYTES)
                        .map(b -> new Response(response.status().code(), response.responseHeaders().get("Content-Type", ""), b)))
                .next()
                .timeout(timeout);
    }

    public void close() {
        pool.dispose();
    }
}
