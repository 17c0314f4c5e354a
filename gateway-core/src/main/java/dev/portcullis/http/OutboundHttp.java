package dev.portcullis.http;

import io.netty.channel.ChannelOption;
import java.net.URI;
import java.time.Duration;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * The client for fetches the gateway makes on configuration's behalf (issuer metadata, JWKS).
 * Only configured URLs are fetched; redirects are never followed; responses are capped in size
 * and time (SECURITY-03). Non-blocking: results arrive as {@link Mono}s.
 */
public final class OutboundHttp {
    /** Metadata documents and key sets are small; anything bigger is refused. */
    public static final int MAX_RESPONSE_BYTES = 512 * 1024;

    private final HttpClient client;
    private final ConnectionProvider pool;

    public OutboundHttp(Duration connectTimeout, Duration responseTimeout) {
        this.pool = ConnectionProvider.builder("portcullis-outbound").maxConnections(16)
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

    public void close() {
        pool.dispose();
    }
}
