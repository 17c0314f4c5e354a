package dev.portcullis.config;

import java.time.Duration;

/**
 * The public listener: where MCP clients connect.
 *
 * @param host           address to bind (default {@code 0.0.0.0}; tests and sidecars use {@code 127.0.0.1})
 * @param port           TCP port (default 8443; 0 picks a free one)
 * @param tls            TLS termination; absent means plain HTTP (local development, or behind a mesh that terminates TLS)
 * @param maxBodySize    largest request body accepted, bytes or with a unit (default {@code 4MiB}); larger bodies get 413
 * @param maxHeaderSize  largest request header block (default {@code 16KiB}); larger gets 431
 * @param idleTimeout    a connection with no traffic for this long is closed (default {@code 120s})
 * @param requestTimeout time allowed to receive a whole request body (default {@code 30s})
 * @param shutdownGrace  on SIGTERM: stop accepting, end SSE streams cleanly, and let in-flight requests
 *                       finish for at most this long (default {@code 20s})
 * @param allowedHosts   accepted {@code Host} names (DNS-rebinding defence; no port). Default: the hosts of the
 *                       routes' resource identifiers. {@code "*"} accepts any (only behind a proxy that checks it)
 * @param allowedOrigins accepted browser {@code Origin}s. Default: the origins of the routes' resource
 *                       identifiers. Requests without {@code Origin} are not affected
 * @param maxBatchSize   most elements a 2025-03-26 JSON-RPC batch may hold (default 100, at most 10000): a larger
 *                       batch is refused whole with one JSON-RPC error (400, -32600) before it is parsed, decided,
 *                       audited or forwarded
 */
public record ListenConfig(String host, Integer port, TlsConfig tls, DataSize maxBodySize,
                           DataSize maxHeaderSize, Duration idleTimeout, Duration requestTimeout, Duration shutdownGrace,
                           java.util.List<String> allowedHosts, java.util.List<String> allowedOrigins,
                           Integer maxBatchSize) {
    public ListenConfig {
        host = host == null ? "0.0.0.0" : host;
        port = Checks.port("port", port, 8443);
        maxBodySize = maxBodySize == null ? DataSize.ofMebibytes(4) : maxBodySize;
        maxHeaderSize = maxHeaderSize == null ? DataSize.ofKibibytes(16) : maxHeaderSize;
        idleTimeout = idleTimeout == null ? Duration.ofSeconds(120) : idleTimeout;
        requestTimeout = requestTimeout == null ? Duration.ofSeconds(30) : requestTimeout;
        shutdownGrace = shutdownGrace == null ? Duration.ofSeconds(20) : shutdownGrace;
        allowedHosts = allowedHosts == null ? null : java.util.List.copyOf(allowedHosts);
        allowedOrigins = allowedOrigins == null ? null : java.util.List.copyOf(allowedOrigins);
        if (allowedOrigins != null) {
            for (String origin : allowedOrigins) {
                if (!origin.equals("*") && !origin.matches("https?://[^/?#\\s]+")) {
                    throw ConfigException.expected("allowed-origins", origin, "scheme://host[:port] without a path, or *");
                }
            }
        }
        maxBatchSize = maxBatchSize == null ? DEFAULT_MAX_BATCH_SIZE : maxBatchSize;
        if (maxBatchSize < 1 || maxBatchSize > 10_000) {
            throw ConfigException.expected("max-batch-size", maxBatchSize, "1..10000 elements");
        }
        if (maxBodySize.bytes() < 1024 || maxBodySize.bytes() > Integer.MAX_VALUE - 8) {
            throw ConfigException.expected("max-body-size", maxBodySize, "1KiB..2GiB");
        }
        if (maxHeaderSize.bytes() < 1024 || maxHeaderSize.bytes() > 1024 * 1024) {
            throw ConfigException.expected("max-header-size", maxHeaderSize, "1KiB..1MiB");
        }
    }

    /** Near what SDKs send: batches are rare, and none sends more than a handful of messages at once. */
    public static final int DEFAULT_MAX_BATCH_SIZE = 100;

    public static ListenConfig defaults() {
        return new ListenConfig(null, null, null, null, null, null, null, null, null, null, null);
    }
}
