package dev.portcullis.audit;

import dev.portcullis.Caches;
import com.github.benmanes.caffeine.cache.Cache;

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
 *   <li>{@code portcullis_requests_total{route,http_request_method,mcp_method_name,gen_ai_tool_name,decision,status}}
 *       — one per decided message. Every label is bounded: {@code http_request_method} and {@code mcp_method_name}
 *       are known names or {@code other} ({@code none} when the request had no MCP message: GET, DELETE, or a
 *       request refused before its body was read); {@code gen_ai_tool_name} is a tool the route's policy names
 *       in a rule, {@code other} for any other tool, {@code none} for messages that are not {@code tools/call};</li>
 *   <li>{@code portcullis_gateway_overhead_seconds{route}} — arrival until the upstream is called
 *       (authenticate, inspect, authorize, exchange);</li>
 *   <li>{@code portcullis_upstream_response_seconds{route}} — upstream call until its response headers;</li>
 *   <li>{@code portcullis_token_validation_failures_total{reason}};</li>
 *   <li>{@code portcullis_sse_streams_active} — SSE responses being relayed.</li>
 * </ul>
 * The two histograms have the {@link #BUCKETS} only (issue 15: not Micrometer's 69 percentile buckets).
 */
public final class RequestMetrics {
    static final Set<String> MCP_METHODS = Set.of("initialize", "ping", "tools/list", "tools/call",
            "resources/list", "resources/templates/list", "resources/read", "resources/subscribe",
            "resources/unsubscribe", "prompts/list", "prompts/get", "completion/complete", "logging/setLevel",
            "notifications/initialized", "notifications/cancelled", "notifications/progress",
            "notifications/roots/list_changed", "tasks/get", "tasks/result", "tasks/cancel", "tasks/list",
            "server/discover", "subscriptions/listen", "response", "batch");
    static final Set<String> HTTP_METHODS = Set.of("GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD");

    /** Histogram buckets: the latencies that matter for a proxy hop, 0.5 ms to 10 s. */
    static final Duration[] BUCKETS = {
            Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofNanos(2_500_000), Duration.ofMillis(5),
            Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500),
            Duration.ofSeconds(5), Duration.ofSeconds(10)};

    /** The label value for "not applicable". */
    static final String NONE = "none";
    static final String OTHER = "other";

    private final MeterRegistry registry;
    /**
     * Meters by their tags, so a request increments a counter instead of building and registering one
     * (a registry lookup with tag sorting and hashing cost more than the rest of the metrics).
     * Cardinality is bounded by routes, methods, policy-named tools, decisions and statuses.
     */
    private final Cache<List<Object>, Counter> requests = Caches.onCallingThread().maximumSize(10_000).build();
    private final Cache<List<Object>, Timer> timers = Caches.onCallingThread().maximumSize(1_000).build();

    public RequestMetrics(MeterRegistry registry, Supplier<Number> activeStreams) {
        this.registry = registry;
        // A strong reference: Micrometer holds gauge sources weakly, and nothing else keeps this supplier alive.
        Gauge.builder("portcullis.sse.streams.active", activeStreams)
                .description("SSE responses being relayed").strongReference(true).register(registry);
    }

    /**
     * One decided message.
     *
     * @param httpMethod the request's HTTP method
     * @param mcpMethod  the message's JSON-RPC method, or null when the request had no message
     * @param tool       the tool of a {@code tools/call} when the route's policy names it in a rule, else null
     */
    void request(String route, String httpMethod, String mcpMethod, String tool, String decision, int status) {
        String http = HTTP_METHODS.contains(httpMethod) ? httpMethod : OTHER;
        String mcp = mcpMethod == null ? NONE : MCP_METHODS.contains(mcpMethod) ? mcpMethod : OTHER;
        String toolName = !"tools/call".equals(mcpMethod) ? NONE : tool == null ? OTHER : tool;
        requests.get(List.of(route, http, mcp, toolName, decision, status), key -> Counter.builder("portcullis.requests")
                .description("MCP messages by route, HTTP method, MCP method, tool, decision and HTTP status")
                .tag("route", route)
                .tag("http.request.method", http)
                .tag("mcp.method.name", mcp)
                .tag("gen_ai.tool.name", toolName)
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
                .publishPercentileHistogram(false)
                .serviceLevelObjectives(BUCKETS)
                .register(registry));
    }
}
