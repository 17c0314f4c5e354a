package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * Issue 12 item 10: no limit on batch size. Clients posting 4 MiB batches (tens of thousands of elements)
 * raised an unrelated caller's p95 from ~10 ms to ~3 s and wrote millions of audit lines. Now a batch over
 * {@code listen.max-batch-size} is refused before any other work and never reaches the upstream, a batch is
 * one audit event, and another caller keeps its latency while one client floods.
 *
 * <p>Robust on a loaded 2-core machine: the baseline and the flood are measured in the same test,
 * interleaved in rounds (so other load on the machine hits both alike), and the bound is 2x the baseline
 * p95 with the baseline floored at 5 ms (scheduler noise), which a gateway that parses and decides a
 * 20,000-element batch on the event loop misses by far. The flood is paced ({@link #FLOOD_PERIOD_NANOS}) so
 * that it measures the gateway's work per batch, not the test machine's cores. Bounded: at most ~25 s.
 */
class BatchFloodTest {
    private static final int ROUNDS = 4;
    private static final int SAMPLES_PER_PHASE = 50;
    private static final Duration PHASE_LIMIT = Duration.ofMillis(2500);
    /** A flood phase lasts at least this long: several flood batches of each kind land in it. */
    private static final Duration FLOOD_PHASE_MIN = Duration.ofMillis(1200);
    /**
     * The flooding client sends one batch per period at most: up to 5 batches a second, every other one of
     * 20,000 elements. Paced so that the flood costs little CPU when the gateway refuses oversized batches
     * cheaply, as it must; without the limit, 50,000 elements a second to parse, decide and audit swamp it.
     */
    private static final long FLOOD_PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    private static final String POLICY = """
            default: deny
            tools:
              echo: {}
            """;
    private final ObjectMapper json = new ObjectMapper();

    private static String call(int id, String tool) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":{\"text\":\"hi\"}}}";
    }

    private static byte[] batch(int elements, boolean someRefused) {
        StringBuilder out = new StringBuilder(elements * 90).append('[');
        for (int i = 0; i < elements; i++) {
            out.append(i == 0 ? "" : ",").append(call(i + 1, someRefused && i % 10 == 0 ? "delete_repo" : "echo"));
        }
        return out.append(']').toString().getBytes(StandardCharsets.UTF_8);
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void noLimitOnBatchSizeLetsOneClientStarveTheOthers(@TempDir Path dir) throws Exception {
        AtomicInteger largestBatchUpstream = new AtomicInteger();
        DisposableServer upstream = HttpServer.create().host("127.0.0.1").port(0)
                .handle((req, res) -> req.receive().aggregate().asString().defaultIfEmpty("").flatMap(body -> {
                    if (GatewayExtension.isEraProbe(body)) {
                        return GatewayExtension.refuseProbeAsLegacy(res);
                    }
                    List<String> answers = new ArrayList<>();
                    try {
                        JsonNode root = json.readTree(body);
                        for (JsonNode element : root.isArray() ? root : List.of(root)) {
                            answers.add("{\"jsonrpc\":\"2.0\",\"id\":" + element.get("id")
                                    + ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}");
                        }
                        if (root.isArray()) {
                            largestBatchUpstream.accumulateAndGet(root.size(), Math::max);
                        }
                    } catch (java.io.IOException e) {
                        return res.status(400).send().then();
                    }
                    String out = body.startsWith("[") ? "[" + String.join(",", answers) + "]" : answers.get(0);
                    return res.header("Content-Type", "application/json").sendString(Mono.just(out)).then();
                }))
                .bindNow();
        Path policy = Files.writeString(dir.resolve("policy.yaml"), POLICY);
        Path audit = dir.resolve("audit.jsonl");
        ExecutorService flooders = Executors.newSingleThreadExecutor();
        try (TestIdp idp = TestIdp.start();
             GatewayHarness gw = GatewayHarness.startYaml("""
                     listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1], max-body-size: 4MiB }
                     admin: { host: 127.0.0.1, port: 0 }
                     issuers: [ { issuer: %s, require-access-token-type: false, algorithms: [RS256] } ]
                     routes: [ { name: test, path: /mcp, upstream: %s, resource: %s, scopes: [mcp:tools], policy: %s } ]
                     audit: { arguments: digest, file: %s }
                     """.formatted(idp.issuer(), "http://127.0.0.1:" + upstream.port() + "/mcp", RESOURCE, policy, audit))) {
            String token = idp.accessToken(RESOURCE, "mcp:tools");
            URI endpoint = URI.create(gw.baseUrl() + "/mcp");
            HttpClient victim = HttpClient.newHttpClient();
            HttpRequest single = HttpRequest.newBuilder(endpoint).timeout(PHASE_LIMIT)
                    .header("Content-Type", "application/json").header("Accept", "application/json, text/event-stream")
                    .header("Authorization", "Bearer " + token)
                    .POST(HttpRequest.BodyPublishers.ofString(call(1, "echo"))).build();

            byte[] oversized = batch(20_000, true); // ~1.4 MiB, 200x the limit
            byte[] largest = batch(100, true);      // at the limit: decided, forwarded, merged
            HttpRequest.Builder flood = HttpRequest.newBuilder(endpoint).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json").header("Accept", "application/json, text/event-stream")
                    .header("Authorization", "Bearer " + token);

            // What each flood request gets: the oversized batch one JSON-RPC error, the largest one its answers.
            HttpClient flooder = HttpClient.newHttpClient();
            HttpResponse<String> refused = flooder.send(flood.copy().POST(HttpRequest.BodyPublishers.ofByteArray(oversized)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(400);
            JsonNode error = json.readTree(refused.body());
            assertThat(error.path("id").isIntegralNumber()).as("one error for the whole batch, no element's id").isFalse();
            assertThat(error.at("/error/code").asInt()).isEqualTo(-32600);
            assertThat(error.at("/error/message").asText()).isEqualTo("Invalid Request: batch too large (at most 100 messages)");
            HttpResponse<String> answered = flooder.send(flood.copy().POST(HttpRequest.BodyPublishers.ofByteArray(largest)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(answered.statusCode()).isEqualTo(200);
            assertThat(json.readTree(answered.body())).hasSize(100);

            for (int i = 0; i < 100; i++) { // warm up the victim's path (JIT, token cache, connection)
                victim.send(single, HttpResponse.BodyHandlers.discarding());
            }
            List<Long> baseline = new ArrayList<>();
            List<Long> flooded = new ArrayList<>();
            AtomicInteger floodRequests = new AtomicInteger(2);
            java.util.Map<Integer, java.util.concurrent.atomic.AtomicLong> floodNanos = new java.util.concurrent.ConcurrentHashMap<>();
            for (int round = 0; round < ROUNDS; round++) {
                baseline.addAll(measure(victim, single, Duration.ZERO));
                AtomicBoolean stop = new AtomicBoolean();
                // One client floods: one connection, alternating a batch 200x over the limit and one at the limit.
                Future<?> running = flooders.submit(() -> {
                    HttpClient client = HttpClient.newHttpClient();
                    List<HttpRequest> requests = List.of(flood.copy().POST(HttpRequest.BodyPublishers.ofByteArray(oversized)).build(),
                            flood.copy().POST(HttpRequest.BodyPublishers.ofByteArray(largest)).build());
                    long next = System.nanoTime();
                    for (int i = 0; !stop.get(); i++) {
                        long sent = System.nanoTime();
                        client.send(requests.get(i % 2), HttpResponse.BodyHandlers.discarding());
                        floodNanos.computeIfAbsent(i % 2 == 0 ? oversized.length : largest.length,
                                k -> new java.util.concurrent.atomic.AtomicLong()).addAndGet(System.nanoTime() - sent);
                        floodRequests.incrementAndGet();
                        next += FLOOD_PERIOD_NANOS;
                        long wait = next - System.nanoTime();
                        if (wait > 0) {
                            TimeUnit.NANOSECONDS.sleep(wait);
                        }
                    }
                    return null;
                });
                try {
                    flooded.addAll(measure(victim, single, FLOOD_PHASE_MIN));
                } finally {
                    stop.set(true);
                }
                running.get(30, TimeUnit.SECONDS);
            }

            long baseP95 = p95(baseline);
            long floodP95 = p95(flooded);
            long bound = 2 * Math.max(baseP95, TimeUnit.MILLISECONDS.toNanos(5));
            System.out.printf("batch flood: victim p95 %.2f ms alone, %.2f ms under %d flood requests (bound %.2f ms)%n",
                    baseP95 / 1e6, floodP95 / 1e6, floodRequests.get(), bound / 1e6);
            System.out.println("batch flood: total ms per body size " + floodNanos);
            assertThat(floodRequests.get()).as("the flood did run").isGreaterThanOrEqualTo(2 + ROUNDS * 3);
            assertThat(floodP95).as("victim p95 under flood (ns), baseline p95 %d ns", baseP95).isLessThanOrEqualTo(bound);
            assertThat(largestBatchUpstream.get()).as("no batch over the limit reached the upstream").isLessThanOrEqualTo(100);

            // Audit volume per request is bounded: one event per request, never one per element.
            int requests = floodRequests.get() + 100 + baseline.size() + flooded.size();
            GatewayHarness.sleep(500);
            long lines;
            try (var stream = Files.lines(audit)) {
                lines = stream.count();
            }
            assertThat(lines).as("audit lines for %d requests", requests).isLessThanOrEqualTo(requests + 5L);
            JsonNode oneBatch = null;
            for (String line : Files.readAllLines(audit)) {
                JsonNode event = json.readTree(line);
                if (event.path("event.action").asText().equals("batch") && event.path("http.response.status_code").asInt() == 200) {
                    oneBatch = event;
                    break;
                }
            }
            assertThat(oneBatch).as("a batch audit event").isNotNull();
            JsonNode batch = oneBatch.path("portcullis.batch");
            assertThat(batch.at("/size").asInt()).isEqualTo(100);
            assertThat(batch.at("/decisions/allow").asInt()).isEqualTo(90);
            assertThat(batch.at("/decisions/deny").asInt()).isEqualTo(10);
            assertThat(batch.at("/elements/0/target").asText()).isEqualTo("delete_repo");
        } finally {
            flooders.shutdownNow();
            upstream.disposeNow();
        }
    }

    /**
     * Victim latencies (ns) of one phase: {@link #SAMPLES_PER_PHASE} calls and at least {@code min} long (so the
     * flood sends several batches meanwhile), at most {@link #PHASE_LIMIT}.
     */
    private static List<Long> measure(HttpClient victim, HttpRequest single, Duration min) throws Exception {
        List<Long> samples = new ArrayList<>();
        long begin = System.nanoTime();
        long end = begin + PHASE_LIMIT.toNanos();
        while ((samples.size() < SAMPLES_PER_PHASE || System.nanoTime() - begin < min.toNanos()) && System.nanoTime() < end) {
            long start = System.nanoTime();
            try {
                HttpResponse<String> response = victim.send(single, HttpResponse.BodyHandlers.ofString());
                samples.add(System.nanoTime() - start);
                assertThat(response.statusCode()).isEqualTo(200);
            } catch (java.net.http.HttpTimeoutException e) {
                samples.add(Long.MAX_VALUE); // starved: as slow as it gets
            }
        }
        return samples;
    }

    private static long p95(List<Long> samples) {
        List<Long> sorted = new ArrayList<>(samples);
        Collections.sort(sorted);
        return sorted.get((int) Math.ceil(sorted.size() * 0.95) - 1);
    }
}
