package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.sun.net.httpserver.HttpServer;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.trace.v1.Span;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Issue 15 traces: a gateway with {@code tracing:} on exports its spans over OTLP/HTTP to a receiver in this
 * test (the protocol's own protobuf classes decode them). An allowed call (through a token exchange) and a
 * denied one, both carrying a caller's {@code traceparent}: the span tree, the MCP attributes, the context
 * sent upstream, and that no token or argument value is in any span.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TracingTest {
    private static final String POLICY = """
            default: deny
            tools:
              echo: { scopes: [mcp:read], arguments: { text: { max-length: 20 } } }
            """;
    private static final String CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
    private static final String CALLER_SPAN = "00f067aa0ba902b7";
    private static final String ALLOWED_ARGUMENT = "allowed-arg-7Qz";
    private static final String DENIED_ARGUMENT = "denied-argument-value-9Xw-too-long";
    private static final String EXPORT_KEY = "otlp-key-3c1f";

    private final List<Span> spans = new CopyOnWriteArrayList<>();
    private final List<String> exportKeys = new CopyOnWriteArrayList<>();
    private HttpServer receiver;
    private TestIdp idp;
    private TestMcpServer upstream;
    private String callerToken;
    private String sessionId;
    private HttpResponse<String> allowed;
    private HttpResponse<String> denied;
    private String openMetrics;
    private Path auditFile;

    @BeforeAll
    void run() throws Exception {
        receiver = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        receiver.createContext("/v1/traces", exchange -> {
            try (exchange) {
                ExportTraceServiceRequest request = ExportTraceServiceRequest.parseFrom(exchange.getRequestBody().readAllBytes());
                request.getResourceSpansList().forEach(r -> r.getScopeSpansList().forEach(s -> spans.addAll(s.getSpansList())));
                exportKeys.add(String.valueOf(exchange.getRequestHeaders().getFirst("X-Api-Key")));
                byte[] answer = ExportTraceServiceResponse.getDefaultInstance().toByteArray();
                exchange.getResponseHeaders().set("Content-Type", "application/x-protobuf");
                exchange.sendResponseHeaders(200, answer.length);
                exchange.getResponseBody().write(answer);
            } catch (IOException e) {
                exchange.sendResponseHeaders(400, -1);
            }
        });
        receiver.start();
        idp = TestIdp.startWithTokenExchange();
        upstream = TestMcpServer.start();
        Path dir = Files.createTempDirectory("portcullis-tracing");
        auditFile = dir.resolve("audit.jsonl");
        Path policy = Files.writeString(dir.resolve("policy.yaml"), POLICY);
        Path headers = Files.writeString(dir.resolve("otlp-headers"), "# export credentials\nX-Api-Key=" + EXPORT_KEY + "\n");
        String yaml = """
                listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1], max-body-size: 64KiB }
                admin: { host: 127.0.0.1, port: 0 }
                audit: { file: %s }
                tracing:
                  enabled: true
                  endpoint: http://127.0.0.1:%d
                  headers-file: %s
                  sampling-ratio: 1.0
                  service-name: portcullis-test
                issuers:
                  - issuer: %s
                    algorithms: [RS256, ES256]
                    require-access-token-type: false
                routes:
                  - name: test
                    path: /mcp
                    upstream: %s
                    resource: %s
                    scopes: [mcp:read]
                    policy: %s
                    upstream-auth:
                      type: token-exchange
                      token-endpoint: %s
                      client-id: portcullis
                      client-secret: gateway-secret
                      audience: todo-server
                      scopes: [todo:read]
                """.formatted(auditFile, receiver.getAddress().getPort(), headers, idp.issuer(), upstream.url(), RESOURCE, policy,
                idp.tokenEndpoint());
        callerToken = idp.accessToken(RESOURCE, "mcp:read");
        try (GatewayHarness gw = GatewayHarness.startYaml(yaml)) {
            String traceparent = "00-" + CALLER_TRACE + "-" + CALLER_SPAN + "-01";
            HttpResponse<String> init = gw.send(gw.post("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                    + "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}")
                    .header("Authorization", "Bearer " + callerToken).build());
            assertThat(init.statusCode()).isEqualTo(200);
            sessionId = init.headers().firstValue("Mcp-Session-Id").orElseThrow();
            gw.send(gw.post("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}")
                    .header("Authorization", "Bearer " + callerToken).header("Mcp-Session-Id", sessionId).build());
            upstream.clearRequests();
            allowed = gw.send(gw.post(call("call-allowed", ALLOWED_ARGUMENT)).header("Authorization", "Bearer " + callerToken)
                    .header("Mcp-Session-Id", sessionId).header("MCP-Protocol-Version", "2025-11-25")
                    .header("traceparent", traceparent).build());
            denied = gw.send(gw.post(call("call-denied", DENIED_ARGUMENT)).header("Authorization", "Bearer " + callerToken)
                    .header("Mcp-Session-Id", sessionId).header("MCP-Protocol-Version", "2025-11-25")
                    .header("traceparent", traceparent).build());
            gw.send(gw.post(call("call-unknown-tool", "x").replace("\"echo\"", "\"tool-nobody-named\""))
                    .header("Authorization", "Bearer " + callerToken).header("Mcp-Session-Id", sessionId).build());
            openMetrics = gw.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:"
                    + gw.gateway.adminPort() + "/metrics")).header("Accept", "application/openmetrics-text; version=1.0.0").build()).body();
        } // close flushes the batch processor
        Instant deadline = Instant.now().plusSeconds(10);
        while (serverSpans("tools/call echo").size() < 2 && Instant.now().isBefore(deadline)) {
            GatewayHarness.sleep(50);
        }
    }

    @AfterAll
    void stop() {
        receiver.stop(0);
        upstream.close();
        idp.close();
    }

    private static String call(String id, String text) {
        return "{\"jsonrpc\":\"2.0\",\"id\":\"" + id + "\",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                + "\"arguments\":{\"text\":\"" + text + "\"}}}";
    }

    private List<Span> serverSpans(String name) {
        return spans.stream().filter(s -> s.getKind() == Span.SpanKind.SPAN_KIND_SERVER && s.getName().equals(name)).toList();
    }

    private Span serverSpan(String requestId) {
        return serverSpans("tools/call echo").stream().filter(s -> requestId.equals(attributes(s).get("jsonrpc.request.id")))
                .findFirst().orElseThrow(() -> new AssertionError("no server span for " + requestId + " in " + names()));
    }

    private String names() {
        return spans.stream().map(s -> s.getKind() + " " + s.getName()).collect(Collectors.joining(", "));
    }

    private static Map<String, String> attributes(Span span) {
        return span.getAttributesList().stream().collect(Collectors.toMap(KeyValue::getKey, kv -> text(kv.getValue())));
    }

    private static String text(AnyValue value) {
        return switch (value.getValueCase()) {
            case STRING_VALUE -> value.getStringValue();
            case INT_VALUE -> Long.toString(value.getIntValue());
            case BOOL_VALUE -> Boolean.toString(value.getBoolValue());
            case DOUBLE_VALUE -> Double.toString(value.getDoubleValue());
            default -> value.toString();
        };
    }

    private static String hex(ByteString bytes) {
        return HexFormat.of().formatHex(bytes.toByteArray());
    }

    private static List<String> events(Span span) {
        return span.getEventsList().stream().map(Span.Event::getName).toList();
    }

    @Test
    void allowedCallIsAServerSpanContinuingTheCallersTraceWithStagesAndAnUpstreamClientSpan() {
        assertThat(allowed.statusCode()).isEqualTo(200);
        Span server = serverSpan("call-allowed");
        assertThat(hex(server.getTraceId())).isEqualTo(CALLER_TRACE);
        assertThat(hex(server.getParentSpanId())).isEqualTo(CALLER_SPAN);
        assertThat(events(server)).containsExactly("authenticate", "inspect", "authorize", "exchange", "forward");
        assertThat(attributes(server)).containsEntry("mcp.method.name", "tools/call")
                .containsEntry("gen_ai.tool.name", "echo")
                .containsEntry("gen_ai.operation.name", "execute_tool")
                .containsEntry("jsonrpc.request.id", "call-allowed")
                .containsEntry("mcp.protocol.version", "2025-11-25")
                .containsEntry("mcp.session.id", sessionId)
                .containsEntry("http.request.method", "POST")
                .containsEntry("http.response.status_code", "200")
                .doesNotContainKey("error.type");

        List<Span> clients = spans.stream().filter(s -> s.getKind() == Span.SpanKind.SPAN_KIND_CLIENT
                && s.getParentSpanId().equals(server.getSpanId())
                && Integer.toString(upstream.port()).equals(attributes(s).get("server.port"))).toList();
        assertThat(clients).as("one upstream call").hasSize(1);
        Span client = clients.get(0);
        assertThat(client.getTraceId()).isEqualTo(server.getTraceId());
        assertThat(attributes(client)).containsEntry("server.address", "127.0.0.1")
                .containsEntry("server.port", Integer.toString(upstream.port()))
                .containsEntry("http.response.status_code", "200");

        // Propagated upstream: the upstream's parent is the gateway's client span, in the caller's trace.
        List<TestMcpServer.RecordedRequest> calls = upstream.requests().stream()
                .filter(r -> r.body() != null && r.body().contains("call-allowed")).toList();
        assertThat(calls).hasSize(1);
        assertThat(calls.get(0).header("traceparent")).isEqualTo("00-" + CALLER_TRACE + "-" + hex(client.getSpanId()) + "-01");
    }

    @Test
    void deniedCallIsAServerSpanWithItsErrorTypeAndNoUpstreamSpan() {
        assertThat(denied.body()).contains("Denied by gateway policy");
        Span server = serverSpan("call-denied");
        assertThat(hex(server.getTraceId())).isEqualTo(CALLER_TRACE);
        assertThat(hex(server.getParentSpanId())).isEqualTo(CALLER_SPAN);
        assertThat(events(server)).containsExactly("authenticate", "inspect");
        assertThat(attributes(server)).containsEntry("error.type", "policy_denied")
                .containsEntry("gen_ai.tool.name", "echo");
        assertThat(server.getStatus().getCode()).isEqualTo(io.opentelemetry.proto.trace.v1.Status.StatusCode.STATUS_CODE_ERROR);
        assertThat(spans).noneMatch(s -> s.getParentSpanId().equals(server.getSpanId()));
        assertThat(upstream.requests()).noneMatch(r -> r.body() != null && r.body().contains("call-denied"));
    }

    @Test
    void tokenEndpointCallIsAClientSpanOfTheRequestThatNeededIt() {
        Span token = spans.stream().filter(s -> s.getKind() == Span.SpanKind.SPAN_KIND_CLIENT
                        && idp.tokenEndpoint().equals(attributes(s).get("url.full")))
                .findFirst().orElseThrow(() -> new AssertionError("no token endpoint span in " + names()));
        assertThat(attributes(token)).containsEntry("http.request.method", "POST").containsEntry("http.response.status_code", "200");
        Span parent = spans.stream().filter(s -> s.getSpanId().equals(token.getParentSpanId())).findFirst().orElseThrow();
        assertThat(parent.getKind()).isEqualTo(Span.SpanKind.SPAN_KIND_SERVER);
        assertThat(spans).anyMatch(s -> s.getKind() == Span.SpanKind.SPAN_KIND_CLIENT
                && String.valueOf(attributes(s).get("url.full")).startsWith(idp.issuer()) && !s.equals(token));
    }

    /** Issue 15 metrics: tool names only from the policy, and exemplars pointing at the request's trace. */
    @Test
    void metricsNameOnlyPolicyToolsAndCarryExemplarsOfTheTrace() {
        Span server = serverSpan("call-allowed");
        assertThat(openMetrics).contains("portcullis_requests_total{decision=\"allow\",gen_ai_tool_name=\"echo\",http_request_method=\"POST\","
                + "mcp_method_name=\"tools/call\",route=\"test\",status=\"200\"} 1");
        assertThat(openMetrics).contains("gen_ai_tool_name=\"other\"").doesNotContain("tool-nobody-named");
        // The allowed call is the only one counted in its series: its exemplar is that call's span.
        assertThat(openMetrics.lines().filter(l -> l.startsWith("portcullis_requests_total{decision=\"allow\",gen_ai_tool_name=\"echo\""))
                .findFirst().orElseThrow())
                .contains("# {span_id=\"" + hex(server.getSpanId()) + "\",trace_id=\"" + CALLER_TRACE + "\"}");
        // A latency bucket keeps one exemplar (of any request it counted): each names a span the gateway exported.
        Pattern exemplar = Pattern.compile("# \\{span_id=\"([0-9a-f]{16})\",trace_id=\"([0-9a-f]{32})\"\\}");
        List<String> buckets = openMetrics.lines().filter(l -> l.startsWith("portcullis_upstream_response_seconds_bucket{")
                && l.contains("# {")).toList();
        assertThat(buckets).isNotEmpty().allSatisfy(line -> {
            Matcher m = exemplar.matcher(line);
            assertThat(m.find()).as(line).isTrue();
            assertThat(spans).as(line).anyMatch(sp -> sp.getKind() == Span.SpanKind.SPAN_KIND_SERVER
                    && hex(sp.getSpanId()).equals(m.group(1)) && hex(sp.getTraceId()).equals(m.group(2)));
        });
    }

    /** Issue 15: the audit event names the trace and the gateway's span, so one leads to the other. */
    @Test
    void auditEventsCarryTheTraceAndSpanOfTheirRequest() throws Exception {
        List<com.fasterxml.jackson.databind.JsonNode> events = new java.util.ArrayList<>();
        Instant deadline = Instant.now().plusSeconds(5);
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        while (Instant.now().isBefore(deadline) && events.size() < 5) {
            events.clear();
            for (String line : Files.exists(auditFile) ? Files.readAllLines(auditFile) : List.<String>of()) {
                events.add(json.readTree(line));
            }
            GatewayHarness.sleep(50);
        }
        var allowedEvent = events.stream().filter(e -> "call-allowed".equals(e.path("jsonrpc.request.id").asText())).findFirst().orElseThrow();
        var deniedEvent = events.stream().filter(e -> "call-denied".equals(e.path("jsonrpc.request.id").asText())).findFirst().orElseThrow();
        assertThat(allowedEvent.path("trace.id").asText()).isEqualTo(CALLER_TRACE);
        assertThat(allowedEvent.path("span.id").asText()).isEqualTo(hex(serverSpan("call-allowed").getSpanId()));
        assertThat(allowedEvent.path("event.outcome").asText()).isEqualTo("success");
        assertThat(deniedEvent.path("span.id").asText()).isEqualTo(hex(serverSpan("call-denied").getSpanId()));
        assertThat(deniedEvent.path("portcullis.decision").asText()).isEqualTo("deny");
        assertThat(deniedEvent.path("rule.id").asText()).isEqualTo("tools.echo");
        assertThat(deniedEvent.path("event.outcome").asText()).isEqualTo("failure");
        assertThat(Files.readString(auditFile)).doesNotContain(callerToken, ALLOWED_ARGUMENT, DENIED_ARGUMENT);
        // The samples in docs/observability.md come from here.
        Files.writeString(Path.of("target", "observability-sample.txt"), "# spans\n"
                + spans.stream().map(sp -> sp.getKind() + " " + sp.getName() + " trace=" + hex(sp.getTraceId()) + " span="
                        + hex(sp.getSpanId()) + " parent=" + hex(sp.getParentSpanId()) + " events=" + events(sp)
                        + " attributes=" + attributes(sp)).collect(Collectors.joining("\n"))
                + "\n# audit\n" + json.writerWithDefaultPrettyPrinter().writeValueAsString(allowedEvent) + "\n"
                + json.writerWithDefaultPrettyPrinter().writeValueAsString(deniedEvent) + "\n# metrics\n" + openMetrics);
    }

    @Test
    void noTokenArgumentOrSecretInAnySpanAndTheExportCarriesTheConfiguredHeaders() {
        assertThat(spans).isNotEmpty();
        String all = spans.stream().map(Span::toString).collect(Collectors.joining("\n"));
        assertThat(all).doesNotContain(callerToken, ALLOWED_ARGUMENT, DENIED_ARGUMENT, "gateway-secret", EXPORT_KEY);
        assertThat(all).doesNotContain(callerToken.substring(callerToken.lastIndexOf('.') + 1));
        assertThat(exportKeys).isNotEmpty().allMatch(EXPORT_KEY::equals);
    }
}
