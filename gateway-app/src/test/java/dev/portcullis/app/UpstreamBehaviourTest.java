package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static dev.portcullis.app.GatewayHarness.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;

/**
 * How the gateway relays what an upstream does: streams, failures, challenges. The upstream here
 * is a small scripted HTTP server, because these behaviours (a stream held open on command, an
 * upstream that never answers, an upstream 401) are what a real MCP server will not do on demand.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UpstreamBehaviourTest {
    private final ObjectMapper json = new ObjectMapper();
    private static final AtomicInteger hits = new AtomicInteger();
    private static final List<String> authorizationSeen = new CopyOnWriteArrayList<>();
    private static volatile CompletableFuture<Void> releaseSecondEvent = new CompletableFuture<>();
    private static final AtomicBoolean upstreamFinished = new AtomicBoolean();
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().noGateway()
            .stubServer(server -> server
                .route(r -> r
                        .post("/sse", (req, res) -> {
                            hits.incrementAndGet();
                            authorizationSeen.add(String.valueOf(req.requestHeaders().get("Authorization")));
                            Flux<String> events = Flux.concat(
                                    Mono.just("id: e1\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n"),
                                    Mono.fromFuture(() -> releaseSecondEvent).thenReturn(
                                            "id: e2\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}\n\n"))
                                    .doOnComplete(() -> upstreamFinished.set(true));
                            return req.receive().then().thenMany(res.header("Content-Type", "text/event-stream")
                                    .sendString(events, StandardCharsets.UTF_8));
                        })
                        .post("/forever", (req, res) -> req.receive().then().thenMany(res.header("Content-Type",
                                "text/event-stream").sendString(Flux.concat(Mono.just("id: 1\ndata: {}\n\n"), Mono.never()))))
                        .post("/silent", (req, res) -> {
                            hits.incrementAndGet();
                            return Mono.never();
                        })
                        .post("/challenge", (req, res) -> {
                            hits.incrementAndGet();
                            return res.status(401)
                                    .header("WWW-Authenticate", "Bearer resource_metadata=\"https://upstream.internal/.well-known/x\"")
                                    .send();
                        })))
            .build();
    private final TestIdp idp = peers.idp();
    private final DisposableServer upstream = peers.stub();

    private GatewayHarness gateway(String upstreamPath) {
        return GatewayHarness.start(idp.issuer(), "http://127.0.0.1:" + upstream.port() + upstreamPath,
                "response-timeout: 1s", null);
    }

    private String token() {
        return idp.accessToken(RESOURCE, "mcp:tools");
    }

    @Test
    @org.junit.jupiter.api.Timeout(value = 30, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
    void transport04FirstSseEventReachesTheClientBeforeTheUpstreamFinishes() throws Exception {
        releaseSecondEvent = new CompletableFuture<>();
        upstreamFinished.set(false);
        try (GatewayHarness gw = gateway("/sse")) {
            var request = gw.post(toolCall(1, "slow")).header("Authorization", "Bearer " + token()).build();
            HttpResponse<InputStream> response = gw.http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                // The upstream holds its second event until we release it: if the gateway buffered the
                // stream, this first read would never return.
                CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> readLine(reader));
                assertThat(first.get(5, TimeUnit.SECONDS)).isEqualTo("id: e1");
                assertThat(upstreamFinished).isFalse();
                releaseSecondEvent.complete(null);
                StringBuilder rest = new StringBuilder();
                String line;
                while ((line = reader.readLine()) != null) {
                    rest.append(line).append('\n');
                }
                assertThat(rest.toString()).contains("id: e2", "\"result\"");
            }
        } finally {
            releaseSecondEvent.complete(null);
        }
        assertThat(authorizationSeen).allMatch(v -> v.equals("null"));
    }

    private static String readLine(BufferedReader reader) {
        try {
            return reader.readLine();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(value = 30, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
    void transport08StreamEndsWhenItsTokenExpires() throws Exception {
        // The stream may live until the token stops being accepted: exp plus the issuer's clock skew (1s here).
        try (GatewayHarness gw = GatewayHarness.start(idp.issuer(), "http://127.0.0.1:" + upstream.port() + "/forever",
                null, "clock-skew: 1s")) {
            long exp = java.time.Instant.now().getEpochSecond() + 3;
            String token = idp.accessToken(RESOURCE, "mcp:tools", java.util.Map.of("exp", exp));
            var request = gw.post(toolCall(1, "stream")).header("Authorization", "Bearer " + token).build();
            long start = System.nanoTime();
            HttpResponse<InputStream> response = gw.http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            String body = new String(response.body().readAllBytes(), StandardCharsets.UTF_8);
            long seconds = Duration.ofNanos(System.nanoTime() - start).toSeconds();
            assertThat(body).isEqualTo("id: 1\ndata: {}\n\n");
            assertThat(seconds).isBetween(1L, 10L);
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(value = 30, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
    void v26_21ListenStreamEndsWithItsResultWhenTheTokenExpires() throws Exception {
        try (GatewayHarness gw = GatewayHarness.start(idp.issuer(), "http://127.0.0.1:" + upstream.port() + "/forever",
                null, "clock-skew: 1s")) {
            long exp = java.time.Instant.now().getEpochSecond() + 3;
            String token = idp.accessToken(RESOURCE, "mcp:tools", java.util.Map.of("exp", exp));
            String listen = "{\"jsonrpc\":\"2.0\",\"id\":\"l-1\",\"method\":\"subscriptions/listen\",\"params\":{\"_meta\":"
                    + "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}";
            var request = gw.post(listen).header("Authorization", "Bearer " + token)
                    .header("MCP-Protocol-Version", "2026-07-28").header("Mcp-Method", "subscriptions/listen").build();
            HttpResponse<InputStream> response = gw.http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            String body = new String(response.body().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(body).startsWith("id: 1\ndata: {}\n\n")
                    .endsWith("data: {\"jsonrpc\":\"2.0\",\"id\":\"l-1\",\"result\":{\"resultType\":\"complete\","
                            + "\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":\"l-1\"}}}\n\n");
        }
    }

    @Test
    void upstreamUnreachableIs502WithTheRequestId() throws Exception {
        int closedPort = GatewayHarness.freePort();
        try (GatewayHarness gw = GatewayHarness.start(idp.issuer(), "http://127.0.0.1:" + closedPort + "/mcp", null, null)) {
            HttpResponse<String> response = gw.send(gw.post(toolCall("req-7", "echo"))
                    .header("Authorization", "Bearer " + token()).build());
            assertThat(response.statusCode()).isEqualTo(502);
            JsonNode body = json.readTree(response.body());
            assertThat(body.get("id").asText()).isEqualTo("req-7");
            assertThat(body.get("error").get("code").asInt()).isEqualTo(-32603);
            assertThat(response.body()).doesNotContain("127.0.0.1", String.valueOf(closedPort));
        }
    }

    @Test
    void upstreamTooSlowIs504WithTheRequestId() throws Exception {
        try (GatewayHarness gw = gateway("/silent")) {
            HttpResponse<String> response = gw.send(gw.post(toolCall(9007199254740993L, "echo"))
                    .header("Authorization", "Bearer " + token()).timeout(Duration.ofSeconds(10)).build());
            assertThat(response.statusCode()).isEqualTo(504);
            assertThat(response.body()).contains("\"id\":9007199254740993");
        }
    }

    @Test
    void challenge07UpstreamChallengeIsNeverRelayed() throws Exception {
        try (GatewayHarness gw = gateway("/challenge")) {
            HttpResponse<String> response = gw.send(gw.post(toolCall(3, "echo"))
                    .header("Authorization", "Bearer " + token()).build());
            assertThat(response.statusCode()).isEqualTo(502);
            assertThat(response.headers().allValues("WWW-Authenticate")).isEmpty();
            assertThat(json.readTree(response.body()).get("id").asInt()).isEqualTo(3);
        }
    }
}
