package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * Requests of every revision through one gateway (issue 5): the era comes from the body; modern
 * requests must carry headers that agree with it; legacy requests' mirrored headers are never
 * passed on; what the upstream receives is rebuilt from the body. The upstream is a recording stub
 * (a modern upstream the Java SDK cannot provide yet).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProtocolEraTest {
    private static final String META = "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
            + "\"io.modelcontextprotocol/clientCapabilities\":{}}";
    private final ObjectMapper json = new ObjectMapper();
    private static final List<io.netty.handler.codec.http.HttpHeaders> seen = new CopyOnWriteArrayList<>();
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder()
            .stubServer(server -> server
                .handle((req, res) -> req.receive().aggregate().asString().defaultIfEmpty("").flatMap(body -> {
                    // A dual-era upstream: its discover result lists both revisions.
                    if (body.contains("portcullis-probe")) {
                        return res.header("Content-Type", "application/json").sendString(Mono.just(
                                "{\"jsonrpc\":\"2.0\",\"id\":\"portcullis-probe\",\"result\":{\"supportedVersions\":"
                                        + "[\"2026-07-28\",\"2025-11-25\"],\"capabilities\":{}}}")).then();
                    }
                    seen.add(req.requestHeaders().copy());
                    return res.header("Content-Type", "application/json")
                            .sendString(Mono.just("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"complete\",\"content\":[]}}"))
                            .then();
                })))
            .build();
    private final TestIdp idp = peers.idp();
    private final GatewayHarness gw = peers.gateway();

    @BeforeEach
    void clear() {
        seen.clear();
    }

    private HttpResponse<String> post(String body, String... headers) {
        var request = gw.post(body).header("Authorization", "Bearer " + idp.accessToken(RESOURCE, "mcp:tools"));
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return gw.send(request.build());
    }

    private static String modernCall(String tool) {
        return "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":{}," + META + "}}";
    }

    Stream<Arguments> mismatches() {
        return Stream.of(
                Arguments.of("no Mcp-Method", new String[] {"MCP-Protocol-Version", "2026-07-28", "Mcp-Name", "echo"}, 400, -32020),
                Arguments.of("Mcp-Method differs", new String[] {"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/list",
                        "Mcp-Name", "echo"}, 400, -32020),
                Arguments.of("Mcp-Name differs", new String[] {"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call",
                        "Mcp-Name", "safe_tool"}, 400, -32020),
                Arguments.of("Mcp-Name in another case", new String[] {"MCP-Protocol-Version", "2026-07-28", "Mcp-Method",
                        "tools/call", "Mcp-Name", "ECHO"}, 400, -32020),
                Arguments.of("base64 name of another tool", new String[] {"MCP-Protocol-Version", "2026-07-28", "Mcp-Method",
                        "tools/call", "Mcp-Name", "=?base64?c2FmZQ==?="}, 400, -32020),
                Arguments.of("malformed base64 name", new String[] {"MCP-Protocol-Version", "2026-07-28", "Mcp-Method",
                        "tools/call", "Mcp-Name", "=?base64?%%%?="}, 400, -32020),
                Arguments.of("no version header", new String[] {"Mcp-Method", "tools/call", "Mcp-Name", "echo"}, 400, -32020),
                Arguments.of("version header of another revision", new String[] {"MCP-Protocol-Version", "2025-11-25",
                        "Mcp-Method", "tools/call", "Mcp-Name", "echo"}, 400, -32020));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("mismatches")
    void v26_8HeaderBodyMismatchIsRejectedBeforeTheUpstream(String name, String[] headers, int status, int code) throws Exception {
        HttpResponse<String> response = post(modernCall("echo"), headers);
        assertThat(response.statusCode()).isEqualTo(status);
        JsonNode body = json.readTree(response.body());
        assertThat(body.path("id").asInt()).isEqualTo(1);
        assertThat(body.path("error").path("code").asInt()).isEqualTo(code);
        assertThat(seen).isEmpty();
    }

    @Test
    void v26_11UpstreamHeadersAreRebuiltFromTheBody() {
        String tool = "ツール";
        String body = modernCall(tool);
        String wrapped = "=?base64?" + java.util.Base64.getEncoder().encodeToString(tool.getBytes(java.nio.charset.StandardCharsets.UTF_8)) + "?=";
        HttpResponse<String> response = post(body, "MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call",
                "Mcp-Name", wrapped, "Mcp-Param-Region", "eu", "Mcp-Session-Id", "ignored-in-2026");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(seen).hasSize(1);
        var headers = seen.get(0);
        assertThat(headers.get("MCP-Protocol-Version")).isEqualTo("2026-07-28");
        assertThat(headers.get("Mcp-Method")).isEqualTo("tools/call");
        assertThat(headers.get("Mcp-Name")).isEqualTo(wrapped);
        assertThat(headers.get("Mcp-Param-Region")).isEqualTo("eu");           // V26-12
        assertThat(headers.get("Mcp-Session-Id")).isNull();                    // V26-15
    }

    @Test
    void v26_10LegacyRequestsNeverForwardMirroredHeaders() {
        String legacy = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{}}}";
        assertThat(post(legacy, "MCP-Protocol-Version", "2025-11-25", "Mcp-Method", "tools/call", "Mcp-Name", "other",
                "Mcp-Param-X", "1").statusCode()).isEqualTo(200);
        var headers = seen.get(0);
        assertThat(headers.get("Mcp-Method")).isNull();
        assertThat(headers.get("Mcp-Name")).isNull();
        assertThat(headers.get("Mcp-Param-X")).isNull();
        assertThat(headers.get("MCP-Protocol-Version")).isEqualTo("2025-11-25");
    }

    @Test
    void v26_1ModernHeaderWithoutEnvelopeIsMalformed() throws Exception {
        String legacy = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}";
        HttpResponse<String> response = post(legacy, "MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/list");
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(json.readTree(response.body()).path("error").path("code").asInt()).isEqualTo(-32602);
        assertThat(seen).isEmpty();
    }

    @Test
    void transport09UnknownLegacyVersionIs400() throws Exception {
        HttpResponse<String> response = post("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}",
                "MCP-Protocol-Version", "1999-01-01");
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(json.readTree(response.body()).path("error").path("data").path("supported").toString()).contains("2025-11-25");
        assertThat(seen).isEmpty();
    }

    @Test
    void v26_45ModernRequestToALegacyOnlyUpstreamGetsANonModernErrorSoTheClientFallsBack() throws Exception {
        try (dev.portcullis.testing.TestMcpServer legacy = dev.portcullis.testing.TestMcpServer.start();
             GatewayHarness mirror = GatewayHarness.start(idp.issuer(), legacy.url(), null, null)) {
            HttpResponse<String> response = null;
            for (int i = 0; i < 50; i++) { // until the probe has answered
                response = mirror.send(mirror.post(modernCall("echo")).header("Authorization", "Bearer "
                        + idp.accessToken(RESOURCE, "mcp:tools")).header("MCP-Protocol-Version", "2026-07-28")
                        .header("Mcp-Method", "tools/call").header("Mcp-Name", "echo").build());
                if (response.statusCode() == 400) {
                    break;
                }
                GatewayHarness.sleep(100);
            }
            assertThat(response.statusCode()).isEqualTo(400);
            JsonNode error = json.readTree(response.body()).path("error");
            assertThat(error.path("code").asInt()).isEqualTo(-32600);
            assertThat(error.path("message").asText()).contains("2025-11-25");
            // The probe reached the Java SDK (legacy-only) server; the modern call never did.
            assertThat(legacy.probes()).isPositive();
            assertThat(legacy.requests()).isEmpty();
        }
    }

    @Test
    void v26_7InitializeToAModernOnlyUpstreamNamesTheSupportedVersions() throws Exception {
        DisposableServer modernOnly = HttpServer.create().host("127.0.0.1").port(0)
                .handle((req, res) -> req.receive().then().then(res.header("Content-Type", "application/json")
                        .sendString(Mono.just("{\"jsonrpc\":\"2.0\",\"id\":\"portcullis-probe\",\"result\":"
                                + "{\"supportedVersions\":[\"2026-07-28\"],\"capabilities\":{}}}")).then()))
                .bindNow();
        try (GatewayHarness mirror = GatewayHarness.start(idp.issuer(), "http://127.0.0.1:" + modernOnly.port() + "/mcp", null, null)) {
            String initialize = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                    + "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
            HttpResponse<String> response = null;
            for (int i = 0; i < 50; i++) {
                response = mirror.send(mirror.post(initialize).header("Authorization", "Bearer "
                        + idp.accessToken(RESOURCE, "mcp:tools")).build());
                if (response.statusCode() == 400) {
                    break;
                }
                GatewayHarness.sleep(100);
            }
            assertThat(response.statusCode()).isEqualTo(400);
            assertThat(json.readTree(response.body()).path("error").path("message").asText()).contains("2026-07-28");
        } finally {
            modernOnly.disposeNow();
        }
    }

    @Test
    void modernBatchIsInvalid() {
        String batch = "[" + modernCall("echo") + "]";
        assertThat(post(batch, "MCP-Protocol-Version", "2026-07-28").statusCode()).isEqualTo(400);
        assertThat(seen).isEmpty();
    }
}
