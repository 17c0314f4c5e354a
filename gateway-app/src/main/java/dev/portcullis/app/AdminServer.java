package dev.portcullis.app;

import dev.portcullis.config.AdminConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * The admin listener, separate from the public one (loopback by default: SECURITY-07):
 * {@code /healthz} (the process serves), {@code /readyz} (every issuer's keys are loaded),
 * {@code /metrics} (Prometheus text format, or OpenMetrics with exemplars when asked for).
 */
final class AdminServer {
    private final DisposableServer server;

    private AdminServer(DisposableServer server) {
        this.server = server;
    }

    static AdminServer bind(AdminConfig config, BooleanSupplier ready, PrometheusMeterRegistry registry) {
        DisposableServer server = HttpServer.create()
                .host(config.host())
                .port(config.port())
                .route(routes -> routes
                        .get("/healthz", (req, res) -> res.header("Content-Type", "text/plain").sendString(Mono.just("ok\n")))
                        .get("/readyz", (req, res) -> ready.getAsBoolean()
                                ? res.header("Content-Type", "text/plain").sendString(Mono.just("ready\n"))
                                : res.status(503).header("Content-Type", "text/plain")
                                        .sendString(Mono.just("not ready: signing keys not loaded\n")))
                        .get("/metrics", (req, res) -> {
                            // OpenMetrics when the scraper asks for it (Prometheus does): the only format with exemplars.
                            String accept = req.requestHeaders().get("Accept", "");
                            String type = accept.contains("application/openmetrics-text")
                                    ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                    : "text/plain; version=0.0.4; charset=utf-8";
                            return res.header("Content-Type", type)
                                    .sendByteArray(Mono.fromCallable(() -> registry.scrape(type).getBytes(StandardCharsets.UTF_8)));
                        }))
                .bindNow(Duration.ofSeconds(15));
        return new AdminServer(server);
    }

    int port() {
        return server.port();
    }

    void close() {
        server.disposeNow(Duration.ofSeconds(5));
    }
}
