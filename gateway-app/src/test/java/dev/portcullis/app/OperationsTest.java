package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static dev.portcullis.app.GatewayHarness.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/** Running it in production: the audit trail, the metrics, trace context, graceful shutdown. */
class OperationsTest {
    private static final String TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    private final ObjectMapper json = new ObjectMapper();

    @Test
    void auditTrailHasOneJsonEventPerDecisionWithoutTokens(@TempDir Path dir) throws Exception {
        Path auditFile = dir.resolve("audit.jsonl");
        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.startYaml(yaml(idp, upstream.url(),
                     "audit: { arguments: digest, file: " + auditFile + " }"))) {
            String good = idp.accessToken(RESOURCE, "mcp:tools");
            String expired = idp.accessToken(RESOURCE, "mcp:tools", Map.of(
                    "exp", Instant.now().minusSeconds(600).getEpochSecond(), "iat", Instant.now().minusSeconds(900).getEpochSecond()));
            String init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
                    + "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
            HttpResponse<String> initialized = gw.send(gw.post(init).header("Authorization", "Bearer " + good)
                    .header("traceparent", TRACEPARENT).build());
            assertThat(initialized.statusCode()).isEqualTo(200);
            String session = initialized.headers().firstValue("Mcp-Session-Id").orElseThrow();
            HttpResponse<String> call = gw.send(gw.post(toolCall(2, "echo")).header("Authorization", "Bearer " + good)
                    .header("Mcp-Session-Id", session).header("MCP-Protocol-Version", "2025-11-25")
                    .header("traceparent", TRACEPARENT).build());
            assertThat(call.statusCode()).isEqualTo(200);
            assertThat(gw.send(gw.post(toolCall(3, "echo")).header("Authorization", "Bearer " + expired).build())
                    .statusCode()).isEqualTo(401);
            // W3C trace context reaches the upstream unchanged.
            assertThat(upstream.requests()).anySatisfy(r -> assertThat(r.header("traceparent")).isEqualTo(TRACEPARENT));

            List<JsonNode> events = awaitLines(auditFile, 3);
            // Issue 15: ECS / OpenTelemetry field names, one timestamp, no logging-framework fields.
            JsonNode toolCall = events.stream().filter(e -> "tools/call".equals(e.path("event.action").asText())
                    && e.path("http.response.status_code").asInt() == 200).findFirst().orElseThrow();
            assertThat(toolCall.path("portcullis.route").asText()).isEqualTo("test");
            assertThat(toolCall.path("user.id").asText()).isEqualTo("user-123");
            assertThat(toolCall.path("portcullis.agent").asText()).isEqualTo("test-agent");
            assertThat(toolCall.path("gen_ai.tool.name").asText()).isEqualTo("echo");
            assertThat(toolCall.path("portcullis.decision").asText()).isEqualTo("allow");
            assertThat(toolCall.path("event.outcome").asText()).isEqualTo("success");
            assertThat(toolCall.path("rule.id").asText()).isEqualTo("authenticated-only");
            assertThat(toolCall.path("portcullis.upstream.status_code").asInt()).isEqualTo(200);
            assertThat(toolCall.path("portcullis.arguments").asText()).startsWith("sha256:");
            assertThat(toolCall.path("trace.id").asText()).isEqualTo(TRACEPARENT.substring(3, 35));
            assertThat(toolCall.has("span.id")).as("no span of the gateway's own with tracing off").isFalse();
            assertThat(toolCall.path("mcp.session.id").asText()).startsWith("sha256:").doesNotContain(session);
            assertThat(toolCall.path("jsonrpc.request.id").asText()).isEqualTo("2");
            assertThat(toolCall.path("client.address").asText()).isEqualTo("127.0.0.1");
            assertThat(toolCall.path("user_agent.original").asText()).startsWith("Java-http-client");
            assertThat(toolCall.path("http.request.method").asText()).isEqualTo("POST");
            assertThat(toolCall.has("http.request.id")).isTrue();
            assertThat(toolCall.path("event.duration").asLong()).isPositive();
            assertThat(Instant.parse(toolCall.path("@timestamp").asText())).isBefore(Instant.now());
            for (JsonNode event : events) {
                assertThat(event.has("@version") || event.has("thread_name") || event.has("logger_name")
                        || event.has("level_value") || event.has("level") || event.has("message") || event.has("timestamp"))
                        .as("logger internals or a second timestamp in %s", event).isFalse();
            }

            JsonNode refused = events.stream().filter(e -> e.path("http.response.status_code").asInt() == 401).findFirst().orElseThrow();
            assertThat(refused.path("portcullis.decision").asText()).isEqualTo("unauthenticated");
            assertThat(refused.path("event.outcome").asText()).isEqualTo("failure");
            assertThat(refused.path("rule.id").asText()).isEqualTo("invalid_token:expired");
            assertThat(refused.path("event.action").asText()).isEqualTo("POST");
            assertThat(refused.has("portcullis.upstream.status_code")).isFalse();
            assertThat(refused.has("user.id")).isFalse();

            String all = Files.readString(auditFile);
            assertThat(all).doesNotContain(good).doesNotContain(expired).doesNotContain(session);
        }
    }

    private List<JsonNode> awaitLines(Path file, int atLeast) throws Exception {
        Instant deadline = Instant.now().plusSeconds(5);
        List<JsonNode> events = new ArrayList<>();
        while (Instant.now().isBefore(deadline)) {
            events.clear();
            if (Files.exists(file)) {
                for (String line : Files.readAllLines(file)) {
                    events.add(json.readTree(line));
                }
            }
            if (events.size() >= atLeast) {
                return events;
            }
            GatewayHarness.sleep(50);
        }
        throw new AssertionError("expected " + atLeast + " audit events, found " + events.size());
    }

    @Test
    void metricsCountRequestsDecisionsAndTokenFailures() throws Exception {
        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.startYaml(yaml(idp, upstream.url(), ""))) {
            String good = idp.accessToken(RESOURCE, "mcp:tools");
            String wrongAudience = idp.accessToken("https://other.example.com/mcp", "mcp:tools");
            String init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
                    + "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
            for (int i = 0; i < 3; i++) {
                assertThat(gw.send(gw.post(init).header("Authorization", "Bearer " + good).build()).statusCode()).isEqualTo(200);
            }
            for (int i = 0; i < 2; i++) {
                assertThat(gw.send(gw.post(init).header("Authorization", "Bearer " + wrongAudience).build()).statusCode()).isEqualTo(401);
            }
            String metrics = gw.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.gateway.adminPort() + "/metrics"))
                    .build()).body();
            assertThat(metrics).contains(
                    // Issue 15: the HTTP and the MCP method are separate labels.
                    "portcullis_requests_total{decision=\"allow\",gen_ai_tool_name=\"none\",http_request_method=\"POST\","
                            + "mcp_method_name=\"initialize\",route=\"test\",status=\"200\"} 3.0",
                    "portcullis_requests_total{decision=\"unauthenticated\",gen_ai_tool_name=\"none\",http_request_method=\"POST\","
                            + "mcp_method_name=\"none\",route=\"test\",status=\"401\"} 2.0",
                    "portcullis_token_validation_failures_total{reason=\"audience\"} 2.0",
                    "portcullis_jwks_fetches_total{issuer=\"" + idp.issuer() + "\",outcome=\"success\"} 1.0",
                    "portcullis_gateway_overhead_seconds_count{route=\"test\"} 3",
                    "portcullis_upstream_response_seconds_count{route=\"test\"} 3",
                    "portcullis_sse_streams_active 0.0",
                    "portcullis_audit_events_dropped_total 0.0",
                    "portcullis_gateway_overhead_seconds_bucket{route=\"test\",le=\"5.0E-4\"}",
                    "portcullis_upstream_response_seconds_bucket{route=\"test\",le=\"10.0\"} 3",
                    // JVM, process, Netty and build info (issue 15).
                    "jvm_memory_used_bytes{", "jvm_gc_max_data_size_bytes", "jvm_threads_live_threads", "jvm_classes_loaded_classes",
                    "process_cpu_usage", "process_uptime_seconds", "process_files_open_files", "system_cpu_count",
                    "netty_allocator_memory_used", "netty_eventexecutor_tasks_pending",
                    "portcullis_build_info{version=\"");
            // A handful of buckets (issue 15: not Micrometer's 69): 14 bounds and +Inf.
            assertThat(metrics.lines().filter(l -> l.startsWith("portcullis_gateway_overhead_seconds_bucket{"))).hasSize(15);
            assertThat(metrics).doesNotContain("method=\"initialize\"");
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(value = 30, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
    void gracefulShutdownEndsAnOpenSseStreamCleanly() throws Exception {
        CompletableFuture<Void> never = new CompletableFuture<>();
        DisposableServer upstream = HttpServer.create().host("127.0.0.1").port(0)
                .handle((req, res) -> req.receive().then().thenMany(res.header("Content-Type", "text/event-stream")
                        .sendString(Flux.concat(Mono.just("id: 1\ndata: {}\n\n"), Mono.fromFuture(never).thenReturn("")))))
                .bindNow();
        try (TestIdp idp = TestIdp.start()) {
            GatewayHarness gw = GatewayHarness.startYaml(yaml(idp, "http://127.0.0.1:" + upstream.port() + "/mcp",
                    "").replace("max-body-size: 64KiB", "max-body-size: 64KiB, shutdown-grace: 5s"));
            var request = gw.post(toolCall(1, "stream")).header("Authorization", "Bearer " + idp.accessToken(RESOURCE, "mcp:tools")).build();
            HttpResponse<InputStream> response = gw.http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
            try {
                assertThat(reader.readLine()).isEqualTo("id: 1");
                CompletableFuture<Void> stopping = CompletableFuture.runAsync(gw::close);
                // The stream is ended by the gateway at once (well inside the 5s grace, which is what an
                // open stream would otherwise hold shutdown for), and ended cleanly: EOF, no reset.
                CompletableFuture<List<String>> rest = CompletableFuture.supplyAsync(() -> reader.lines().toList());
                assertThat(rest.get(2500, TimeUnit.MILLISECONDS)).containsExactly("data: {}", "");
                stopping.get(10, TimeUnit.SECONDS);
            } finally {
                response.body().close();
            }
        } finally {
            never.complete(null);
            upstream.disposeNow();
        }
    }

    private static String yaml(TestIdp idp, String upstream, String extra) {
        return """
                listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1], max-body-size: 64KiB }
                admin: { host: 127.0.0.1, port: 0 }
                issuers: [ { issuer: %s, require-access-token-type: false, algorithms: [RS256] } ]
                routes: [ { name: test, path: /mcp, upstream: %s, resource: %s, scopes: [mcp:tools] } ]
                %s
                """.formatted(idp.issuer(), upstream, RESOURCE, extra);
    }
}
