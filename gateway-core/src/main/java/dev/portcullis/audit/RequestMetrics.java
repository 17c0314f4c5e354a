package dev.portcullis.audit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The request path's metrics (Prometheus names once scraped):
 * <ul>
 *   <li>{@code portcullis_requests_total{route,method,decision,status}} — one per decided message;
 *       {@code method} is an MCP method name or {@code other}, so clients cannot blow up cardinality;</li>
 *   <li>{@code portcullis_gateway_overhead_seconds{route}} — arrival until the upstream is called
 *       (authenticate, inspect, authorize, exchange);</li>
 *   <li>{@code portcullis_upstream_response_seconds{route}} — upstream call until its response headers;</li>
 *   <li>{@code portcullis_token_validation_failures_total{reason}};</li>
 *   <li>{@code portcullis_sse_streams_active} — SSE responses being relayed.</li>
 * </ul>
 */
public final class RequestMetrics {
    private static final Set<String> METHODS = Set.of("initialize", "ping", "tools/list", "tools/call",
            "resources/list", "resources/templates/list", "resources/read", "resources/subscribe",
            "resources/unsubscribe", "prompts/list", "prompts/get", "completion/complete", "logging/setLevel",
            "notifications/initialized", "notifications/cancelled", "notifications/progress",
            "notifications/roots/list_changed", "tasks/get", "tasks/result", "tasks/cancel", "tasks/list",
            "server/discover", "subscriptions/listen", "response", "GET", "DELETE", "POST", "PUT", "PATCH", "OPTIONS");

    private final MeterRegistry registry;
    /**
     * Meters by their tags, so a request increments a counter instead of building and registering one
     * (a registry lookup with tag sorting and hashing cost more than the rest of the metrics).
     * Cardinality is bounded by routes, {@link #METHODS}, decisions and statuses.
     */
    private final Cache<List<Object>, Counter> requests = Caffeine.newBuilder().maximumSize(10_000).build();
    private final Cache<List<Object>, Timer> timers = Caffeine.newBuilder().maximumSize(1_000).build();

    public RequestMetrics(MeterRegistry registry, Supplier<Number> activeStreams) {
        this.registry = registry;
        // A strong reference: Micrometer holds gauge sources weakly, and nothing else keeps this supplier alive.
        Gauge.builder("portcullis.sse.streams.active", activeStreams)
                .description("SSE responses being relayed").strongReference(true).register(registry);
    }

    void request(String route, String method, String decision, int status) {
        String known = METHODS.contains(method) ? method : "other";
        requests.get(List.of(route, known, decision, status), key -> Counter.builder("portcullis.requests")
                .description("MCP messages by route, method, decision and HTTP status")
                .tag("route", route)
                .tag("method", known)
                .tag("decision", decision)
                .tag("status", Integer.toString(status))
                .register(registry)).increment();
    }

    void overhead(String route, Duration duration) {
        timer("portcullis.gateway.overhead", "Time in the gateway before the upstream is called", route).record(duration);
    }

    void upstreamResponse(String route, Duration duration) {
        timer("portcullis.upstream.response", "Upstream time to response headers", route).record(duration);
    }

    void tokenFailure(String reason) {
        Counter.builder("portcullis.token.validation.failures")
                .description("Rejected tokens by reason")
                .tag("reason", reason)
                .register(registry).increment();
    }

    private Timer timer(String name, String description, String route) {
        return timers.get(List.of(name, route), key -> Timer.builder(name).description(description).tag("route", route)
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry));
    }
}
