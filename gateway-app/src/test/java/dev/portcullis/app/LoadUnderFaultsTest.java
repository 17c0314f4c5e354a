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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.blockhound.BlockHound;
import reactor.core.publisher.Mono;

/**
 * 200 concurrent clients for a bounded time while the IdP goes down and comes back with a new key
 * (issue 6). No request is answered wrongly: an allowed call always gets the upstream's answer to
 * exactly that call, a denied call always gets the denial and never reaches the upstream, a request
 * without a token always gets the 401, and nothing is dropped. BlockHound watches the event loops
 * (Netty's and Reactor's non-blocking threads) the whole time and every blocking call it sees fails
 * the test, with its stack.
 *
 * <p>Runs in its own JVM (surefire execution {@code blockhound}: BlockHound cannot be uninstalled and
 * needs {@code -XX:+AllowRedefinitionToAddDeleteMethods} on JDK 13+).
 */
@Tag("blockhound")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class LoadUnderFaultsTest {
    private static final int CLIENTS = 200;
    private static final Duration LOAD = Duration.ofSeconds(8);
    private static final Queue<String> BLOCKING_CALLS = new ConcurrentLinkedQueue<>();

    private static final ObjectMapper json = new ObjectMapper();
    private static final Map<String, AtomicInteger> upstreamSaw = new ConcurrentHashMap<>();
    /**
     * BlockHound is installed before anything starts. The upstream is a separate server with its own
     * event loops, not the gateway's: a scripted one that answers each tools/call with its own id and
     * tool name, and records what it saw.
     */
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder()
            .beforeStart(LoadUnderFaultsTest::installBlockHound)
            .stubOnOwnLoops(2)
            .stubServer(server -> server
                .route(r -> r.post("/mcp", (req, res) -> req.receive().aggregate().asString().flatMap(body -> {
                    JsonNode call;
                    try {
                        call = json.readTree(body);
                    } catch (Exception e) {
                        return res.status(400).send().then();
                    }
                    if (call.isArray()) {
                        // A 2025-03-26 batch (only notifications reach it here): taken, nothing to answer.
                        return res.status(202).send().then();
                    }
                    if ("server/discover".equals(call.path("method").asText())) {
                        // The gateway's era probe at start, not a client's call: answered as a legacy server would.
                        return res.status(400).send().then();
                    }
                    String tool = call.path("params").path("name").asText();
                    upstreamSaw.computeIfAbsent(tool, t -> new AtomicInteger()).incrementAndGet();
                    String answer = "{\"jsonrpc\":\"2.0\",\"id\":" + call.path("id") + ",\"result\":{\"content\":[{\"type\":"
                            + "\"text\",\"text\":\"" + tool + "\"}]}}";
                    return res.header("Content-Type", "application/json").sendString(Mono.just(answer)).then();
                }))))
            .policy("default: deny\ntools:\n  echo: {}\n")
            .config(peers -> GatewayHarness.config(peers.idp().issuer(), peers.upstreamUrl(), "allowed-hosts: [127.0.0.1]",
                    "jwks-min-refresh-interval: 1s", "policy: " + peers.policyFile()))
            .build();
    private TestIdp idp = peers.idp();
    private final GatewayHarness gw = peers.gateway();
    private final Queue<Long> allowedLatencyMillis = new ConcurrentLinkedQueue<>();

    private static void installBlockHound() throws Exception {
        BlockHound.Builder blockHound = BlockHound.builder();
        // The integrations on the class path (reactor-core's, Netty's, ...) mark their non-blocking threads.
        java.util.ServiceLoader.load(reactor.blockhound.integration.BlockHoundIntegration.class).forEach(blockHound::with);
        blockHound
                .blockingMethodCallback(method -> {
                    StringBuilder stack = new StringBuilder(Thread.currentThread().getName() + ": " + method);
                    for (StackTraceElement frame : new Exception().getStackTrace()) {
                        stack.append("\n    at ").append(frame);
                    }
                    BLOCKING_CALLS.add(stack.toString());
                })
                .install();
        // BlockHound must really be watching the threads the gateway runs on: a sleep on one of Reactor
        // Netty's event loops (the server's and the clients' loops) is reported.
        reactor.netty.http.HttpResources.get().onServer(true).next().submit(() -> {
            Thread.sleep(1);
            return null;
        }).get(5, TimeUnit.SECONDS);
        assertThat(BLOCKING_CALLS).as("BlockHound sees event loops").singleElement().asString()
                .contains("reactor-http-", "java.lang.Thread.sleep");
        BLOCKING_CALLS.clear();
    }

    enum Kind { ALLOWED, DENIED, NO_TOKEN, CURRENT_IDP_TOKEN }

    private record Outcome(Kind kind, int id, int status, String body, Throwable error) {}

    @Test
    void twoHundredClientsWhileTheIdpRestartsGetOnlyCorrectAnswersAndNothingBlocksAnEventLoop() throws Exception {
        String knownKeyToken = idp.accessToken(RESOURCE, "mcp:tools");
        // Tokens of "the current IdP": before the restart under the first key, after it under the new one.
        AtomicReference<List<String>> currentTokens = new AtomicReference<>(mint(idp, 4));
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        URI endpoint = URI.create(gw.baseUrl() + "/mcp");
        AtomicInteger ids = new AtomicInteger();
        Queue<Outcome> wrong = new ConcurrentLinkedQueue<>();
        Map<Kind, AtomicInteger> answered = new ConcurrentHashMap<>();
        AtomicInteger idpTokenRefusedAfterRecovery = new AtomicInteger();
        AtomicLong recoveredAt = new AtomicLong(Long.MAX_VALUE);
        long deadline = System.nanoTime() + LOAD.toNanos();

        List<CompletableFuture<Void>> clients = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            Kind kind = Kind.values()[c % Kind.values().length];
            clients.add(loop(() -> {
                int id = ids.incrementAndGet();
                String tool = kind == Kind.DENIED ? "delete_all" : "echo";
                HttpRequest.Builder request = HttpRequest.newBuilder(endpoint).timeout(Duration.ofSeconds(10))
                        .header("Content-Type", "application/json")
                        .header("Accept", "application/json, text/event-stream")
                        .POST(HttpRequest.BodyPublishers.ofString(GatewayHarness.toolCall(id, tool)));
                List<String> current = currentTokens.get();
                switch (kind) {
                    case ALLOWED, DENIED -> request.header("Authorization", "Bearer " + knownKeyToken);
                    case CURRENT_IDP_TOKEN -> request.header("Authorization", "Bearer " + current.get(id % current.size()));
                    case NO_TOKEN -> { }
                }
                long sentAt = System.nanoTime();
                return http.sendAsync(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8))
                        .handle((response, error) -> {
                            Outcome outcome = new Outcome(kind, id, response == null ? -1 : response.statusCode(),
                                    response == null ? null : response.body(), error);
                            if (!correct(outcome)) {
                                boolean newKeyNotYetLearned = kind == Kind.CURRENT_IDP_TOKEN && outcome.status() == 401
                                        && outcome.body() != null && sentAt < recoveredAt.get() + Duration.ofSeconds(3).toNanos();
                                if (newKeyNotYetLearned) {
                                    idpTokenRefusedAfterRecovery.incrementAndGet();
                                } else {
                                    wrong.add(outcome);
                                }
                            }
                            answered.computeIfAbsent(kind, k -> new AtomicInteger()).incrementAndGet();
                            if (kind == Kind.ALLOWED) {
                                allowedLatencyMillis.add((System.nanoTime() - sentAt) / 1_000_000);
                            }
                            return null;
                        });
            }, deadline));
        }

        // The faults, while the load runs: the IdP goes away for 2 s and comes back with a new signing key.
        int port = idp.port();
        GatewayHarness.sleep(2000);
        idp.stop();
        GatewayHarness.sleep(2000);
        idp = peers.restartIdp();
        List<String> newKeyTokens = mint(idp, 4);
        recoveredAt.set(System.nanoTime());
        currentTokens.set(newKeyTokens);

        CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);

        List<Long> latencies = allowedLatencyMillis.stream().sorted().toList();
        String report = "answered " + answered + ", upstream saw " + upstreamSaw + ", new-key tokens refused while the "
                + "key was being learned " + idpTokenRefusedAfterRecovery + ", allowed-call latency ms p50/p99/max "
                + latencies.get(latencies.size() / 2) + "/" + latencies.get(latencies.size() * 99 / 100) + "/"
                + latencies.get(latencies.size() - 1);
        System.out.println("LoadUnderFaultsTest: " + report);
        assertThat(wrong).as(report + "; wrong answers (first 5): " + wrong.stream().limit(5).toList()).isEmpty();
        assertThat(answered.values().stream().mapToInt(AtomicInteger::get).sum()).as(report).isGreaterThan(CLIENTS * 5);
        assertThat(upstreamSaw.keySet()).as("the denied tool never reached the upstream").containsOnly("echo");
        int allowedAnswers = answered.get(Kind.ALLOWED).get() + answered.get(Kind.CURRENT_IDP_TOKEN).get()
                - idpTokenRefusedAfterRecovery.get();
        assertThat(upstreamSaw.get("echo").get()).as("one upstream call per allowed answer: none dropped, none doubled")
                .isEqualTo(allowedAnswers);
        List<String> unexpected = BLOCKING_CALLS.stream().filter(call -> !isReportedFinding(call)).distinct().toList();
        long known = BLOCKING_CALLS.stream().filter(LoadUnderFaultsTest::isReportedFinding).count();
        System.out.println("LoadUnderFaultsTest: blocking calls seen: " + BLOCKING_CALLS.size() + " (" + known
                + " of them the two reported findings)");
        assertThat(unexpected).as("blocking calls on non-blocking threads:\n" + String.join("\n\n", unexpected)).isEmpty();
    }

    /**
     * The blocking calls found and reported (see {@link #aRequestMakesNoBlockingCallOnTheEventLoop}); only these
     * exact stacks are tolerated here, so that the load test keeps guarding everything else:
     * <ol>
     *   <li>McpRequestPath draws each request id from {@code UUID.randomUUID()}, whose SecureRandom reads
     *       /dev/urandom with a blocking FileInputStream read on the event loop (every request);</li>
     *   <li>Jackson creates a mapper's deserializers lazily, on first use, under a lock (DeserializerCache); the
     *       first concurrent requests park on it on the event loop: in JsonRpcInspector.inspect ({@code readTree}) and
     *       ArgumentLogging.digest ({@code treeToValue}). Warm-up only: once built, deserializers are cached.</li>
     * </ol>
     */
    static boolean isReportedFinding(String call) {
        boolean requestId = call.contains(": java.io.FileInputStream#readBytes") && call.contains("java.util.UUID.randomUUID")
                && call.contains("dev.portcullis.McpRequestPath.handle");
        boolean deserializerCache = call.contains(": jdk.internal.misc.Unsafe#park")
                && call.contains("com.fasterxml.jackson.databind.deser.DeserializerCache._createAndCacheValueDeserializer")
                && (call.contains("dev.portcullis.audit.ArgumentLogging.digest")
                        || call.contains("dev.portcullis.inspect.JsonRpcInspector.inspect"));
        return requestId || deserializerCache;
    }

    @Test
    void aRequestMakesNoBlockingCallOnTheEventLoop() {
        BLOCKING_CALLS.clear();
        assertThat(gw.send(gw.post(GatewayHarness.toolCall(1, "echo")).header("Authorization", "Bearer "
                + idp.accessToken(RESOURCE, "mcp:tools")).build()).statusCode()).isEqualTo(200);
        assertThat(BLOCKING_CALLS).as(String.join("\n\n", BLOCKING_CALLS)).isEmpty();
    }

    /**
     * POLICY-07 on the event loop: a batch split by policy (the refused call answered by the gateway, the
     * notification forwarded, the upstream's 202 turned into the array of errors) blocks nothing.
     */
    @Test
    void policy07APartialBatchMakesNoBlockingCallOnTheEventLoop() throws Exception {
        BLOCKING_CALLS.clear();
        String batch = "[" + GatewayHarness.toolCall(1, "delete_all")
                + ",{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}]";
        HttpResponse<String> response = gw.send(gw.post(batch).header("Authorization", "Bearer "
                + idp.accessToken(RESOURCE, "mcp:tools")).header("MCP-Protocol-Version", "2025-03-26").build());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(json.readTree(response.body()).path(0).path("error").path("code").asInt()).isEqualTo(-32602);
        assertThat(BLOCKING_CALLS).as(String.join("\n\n", BLOCKING_CALLS)).isEmpty();
    }

    /** Was this the right answer for its kind of request? */
    private boolean correct(Outcome o) {
        if (o.error() != null || o.body() == null) {
            return false; // dropped
        }
        try {
            return switch (o.kind()) {
                case ALLOWED, CURRENT_IDP_TOKEN -> o.status() == 200 && answersWith(o, "echo");
                case DENIED -> o.status() == 200 && json.readTree(o.body()).path("id").asInt() == o.id()
                        && json.readTree(o.body()).path("error").path("code").asInt() == -32602;
                case NO_TOKEN -> o.status() == 401;
            };
        } catch (Exception e) {
            return false;
        }
    }

    private boolean answersWith(Outcome o, String tool) throws Exception {
        JsonNode body = json.readTree(o.body());
        return body.path("id").asInt() == o.id() && body.path("result").path("content").path(0).path("text").asText().equals(tool);
    }

    private static List<String> mint(TestIdp idp, int count) {
        List<String> tokens = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            tokens.add(idp.accessToken(RESOURCE, "mcp:tools"));
        }
        return tokens;
    }

    /** Runs {@code step} again and again, one at a time, until the deadline. */
    private static CompletableFuture<Void> loop(java.util.function.Supplier<CompletableFuture<Void>> step, long deadline) {
        if (System.nanoTime() >= deadline) {
            return CompletableFuture.completedFuture(null);
        }
        return step.get().thenCompose(ignored -> loop(step, deadline));
    }
}
