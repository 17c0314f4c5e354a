package dev.portcullis.route;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.forward.SseEvents;
import dev.portcullis.revision.HttpSse2024;
import dev.portcullis.revision.McpRevision;
import dev.portcullis.revision.Stateless2026;
import dev.portcullis.revision.Streamable2025;
import io.netty.channel.ChannelOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;

/**
 * Which revisions ({@link McpRevision}) each upstream speaks, learned once per upstream (V26-6) by a modern
 * {@code server/discover}: a {@code DiscoverResult}, or an error {@code -32020}/{@code -32021}/{@code -32022},
 * means it speaks 2026-07-28 (and the legacy versions its {@code supportedVersions} lists); anything else
 * means legacy only. {@code -32001} is never taken as modern evidence (legacy SDKs use it for "session
 * not found"). Never inferred from ordinary traffic. Until a probe has answered — or when the upstream
 * demands credentials for it — nothing is assumed and requests pass. A failed probe is retried.
 *
 * <p>Mirror mode (V26-45): clients are offered exactly what the upstream speaks. A modern request to a
 * legacy-only upstream gets a 400 with a non-modern error, so a dual-era client falls back to
 * {@code initialize}; a legacy request to a modern-only upstream gets a 400 naming the versions the route
 * serves (V26-7).
 */
public final class UpstreamEras {
    private static final Logger log = LoggerFactory.getLogger(UpstreamEras.class);
    private static final String PROBE = "{\"jsonrpc\":\"2.0\",\"id\":\"portcullis-probe\",\"method\":\"server/discover\","
            + "\"params\":{\"_meta\":{\"" + McpRevision.VERSION_KEY + "\":\"2026-07-28\",\"" + McpRevision.CAPABILITIES_KEY + "\":{}}}}";
    private static final Set<Integer> MODERN_ERRORS = Set.of(-32020, -32021, -32022);

    private final Map<String, Set<McpRevision>> known = new ConcurrentHashMap<>();
    private final List<reactor.core.Disposable> probes = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final ObjectMapper json = new ObjectMapper();

    /** The revisions the route's upstream speaks, or empty while unknown (then nothing is assumed). */
    public Set<McpRevision> of(Route route) {
        return known.getOrDefault(route.name(), Set.of());
    }

    /** Probes every route's upstream in the background; retries a route every {@code retry} until it answers. */
    public void probe(List<Route> routes, Duration retry) {
        for (Route route : routes) {
            if (route.config().legacySse()) {
                known.put(route.name(), Set.of(HttpSse2024.REVISION));
                continue;
            }
            probes.add(probeOnce(route)
                    .retryWhen(reactor.util.retry.Retry.fixedDelay(Long.MAX_VALUE, retry))
                    .subscribe(eras -> {
                        known.put(route.name(), eras);
                        log.info("route {}: upstream speaks {}", route.name(), eras);
                    }, e -> log.debug("route {}: upstream era probe stopped: {}", route.name(), e.toString())));
        }
    }

    /** Stops probes still retrying. */
    public void close() {
        probes.forEach(reactor.core.Disposable::dispose);
    }

    Mono<Set<McpRevision>> probeOnce(Route route) {
        return HttpClient.create()
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 3000)
                .responseTimeout(Duration.ofSeconds(5))
                .headers(h -> h.set("Content-Type", "application/json")
                        .set("Accept", "application/json, text/event-stream")
                        .set("MCP-Protocol-Version", "2026-07-28").set("Mcp-Method", "server/discover"))
                .post().uri(route.config().upstreamUri())
                .send(reactor.netty.ByteBufFlux.fromString(Mono.just(PROBE)))
                .responseSingle((response, body) -> {
                    int status = response.status().code();
                    if (status == 401 || status == 403) {
                        return Mono.error(new IllegalStateException("the upstream wants credentials for the probe"));
                    }
                    return body.asByteArray().defaultIfEmpty(new byte[0])
                            .map(bytes -> classify(new String(bytes, StandardCharsets.UTF_8)));
                });
    }

    /** The revisions a probe answer shows (JSON, or an SSE stream whose data is the answer). */
    Set<McpRevision> classify(String answer) {
        String text = answer.strip();
        if (text.startsWith("event:") || text.startsWith("data:") || text.startsWith("id:")) {
            text = SseEvents.data(text.getBytes(StandardCharsets.UTF_8));
            text = text == null ? "" : text;
        }
        try {
            JsonNode message = json.readTree(text);
            JsonNode versions = message == null ? null : message.path("result").get("supportedVersions");
            if (versions != null && versions.isArray()) {
                for (JsonNode version : versions) {
                    if (McpRevision.LEGACY_VERSIONS.contains(version.asText())) {
                        return Set.of(Stateless2026.REVISION, Streamable2025.REVISION);
                    }
                }
                return Set.of(Stateless2026.REVISION);
            }
            if (message != null && MODERN_ERRORS.contains(message.path("error").path("code").asInt())) {
                return Set.of(Stateless2026.REVISION);
            }
        } catch (java.io.IOException | RuntimeException notJson) {
            // not a JSON-RPC answer: a legacy server refusing the unknown method or the missing session
        }
        return Set.of(Streamable2025.REVISION);
    }

}
