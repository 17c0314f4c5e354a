package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 12, items 1, 5, 6, 7 and 8, against a running gateway in front of a recording upstream (a real Java
 * MCP SDK server): each hostile request is refused with a clear answer and the upstream receives nothing;
 * each well-formed twin of it is forwarded, so the refusals are not a route that forwards nothing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RequestBoundaryTest {
    private static final String POLICY = """
            default: deny
            tools:
              echo: {}
              whoami: { scopes: [mcp:write] }
            resources:
              "demo://resource/static/document/**": {}
              "file:///workspace/**": {}
              "demo://resource/dynamic/**": { roles: [admin] }
            prompts:
              simple_prompt: {}
              secret_prompt: { roles: [admin] }
            methods:
              completion/complete: {}
            """;
    private final ObjectMapper json = new ObjectMapper();
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().policy(POLICY).build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();
    private final String token = idp.accessToken(RESOURCE, "mcp:tools");

    private HttpResponse<String> post(String body, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(gw.baseUrl() + "/mcp"))
                .timeout(Duration.ofSeconds(10))
                .header("Accept", "application/json, text/event-stream")
                .header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString(body));
        boolean contentType = false;
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
            contentType |= headers[i].equalsIgnoreCase("Content-Type");
        }
        if (!contentType) {
            request.header("Content-Type", "application/json");
        }
        return gw.send(request.build());
    }

    private static String request(String method, String paramsJson) {
        return "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"" + method + "\",\"params\":" + paramsJson + "}";
    }

    private JsonNode error(HttpResponse<String> response) throws Exception {
        return json.readTree(response.body()).path("error");
    }

    private void assertNothingForwarded() {
        assertThat(upstream.requests()).as("requests the upstream received").isEmpty();
    }

    private void assertForwarded(String fragment) {
        assertThat(upstream.requests()).as("requests the upstream received")
                .anySatisfy(r -> assertThat(r.body()).contains(fragment));
    }

    // --- item 1: resource URIs with dot segments -----------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {
            "demo://resource/static/document/../../dynamic/text/1",
            "demo://resource/static/document/%2e%2e/%2e%2e/dynamic/text/1",
            "demo://resource/static/document/..%2F..%2Fdynamic/text/1",
            "demo://resource/static/document/..\\\\..\\\\dynamic\\\\text\\\\1",
            "file:///workspace/x/../../etc/passwd",
            "file:///workspace//etc/passwd",
    })
    void dotSegmentResourceUriIsRefusedAndNeverForwarded(String uri) throws Exception {
        for (String method : List.of("resources/read", "resources/subscribe")) {
            HttpResponse<String> response = post(request(method, "{\"uri\":\"" + uri + "\"}"));
            assertThat(response.statusCode()).as(method + " " + uri).isEqualTo(200);
            assertThat(error(response).path("code").asInt()).isEqualTo(-32602);
            assertThat(error(response).path("message").asText()).startsWith("Invalid params: resource URI is not in normal form");
            assertThat(json.readTree(response.body()).path("id").asInt()).isEqualTo(7);
        }
        assertNothingForwarded();
    }

    @Test
    void normalResourceUriUnderTheAllowedTreeIsForwarded() {
        post(request("resources/read", "{\"uri\":\"demo://resource/static/document/1\"}"));
        assertForwarded("demo://resource/static/document/1");
    }

    @Test
    void dotSegmentUriInABatchIsRefusedWithTheBatch() throws Exception {
        HttpResponse<String> response = post("[" + request("resources/read", "{\"uri\":\"file:///workspace/../etc/passwd\"}")
                + "]", "MCP-Protocol-Version", "2025-03-26");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(json.readTree(response.body()).path(0).path("error").path("code").asInt()).isEqualTo(-32602);
        assertNothingForwarded();
    }

    // --- item 5: completion follows the visibility of its ref ----------------------------------

    @Test
    void completionOfAHiddenPromptIsAnUnknownPromptAndNeverForwarded() throws Exception {
        HttpResponse<String> response = post(request("completion/complete",
                "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"secret_prompt\"},\"argument\":{\"name\":\"a\",\"value\":\"\"}}"));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(error(response).path("code").asInt()).isEqualTo(-32602);
        assertThat(error(response).path("message").asText()).isEqualTo("Unknown prompt: secret_prompt");
        // exactly what prompts/get of the same hidden prompt answers
        HttpResponse<String> get = post(request("prompts/get", "{\"name\":\"secret_prompt\"}"));
        assertThat(error(get).path("message").asText()).isEqualTo(error(response).path("message").asText());
        assertNothingForwarded();
    }

    @Test
    void completionOfAHiddenResourceTemplateIsAMissingResourceAndNeverForwarded() throws Exception {
        HttpResponse<String> response = post(request("completion/complete",
                "{\"ref\":{\"type\":\"ref/resource\",\"uri\":\"demo://resource/dynamic/text/{id}\"},"
                        + "\"argument\":{\"name\":\"id\",\"value\":\"\"}}"));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(error(response).path("code").asInt()).isEqualTo(-32002);
        assertNothingForwarded();
    }

    @Test
    void completionOfAVisiblePromptIsForwarded() {
        post(request("completion/complete",
                "{\"ref\":{\"type\":\"ref/prompt\",\"name\":\"simple_prompt\"},\"argument\":{\"name\":\"a\",\"value\":\"\"}}"));
        assertForwarded("simple_prompt");
    }

    // --- item 6: charset differential ----------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {
            "application/json; charset=GBK",
            "application/json; charset=\"gbk\"",
            "application/json;charset=UTF-16",
            "application/json; charset=utf-8; charset=gbk",
            "text/plain",
            "application/jsonp",
    })
    void charsetDifferentialNonUtf8BodyIs415AndNeverForwarded(String contentType) throws Exception {
        // Valid UTF-8 (so the gateway would decide on it) that a GBK reader decodes as other characters.
        byte[] gbk = GatewayHarness.toolCall(1, "echo").replace("hi", "h\u00e9").getBytes(StandardCharsets.UTF_8);
        assertThat(new String(gbk, Charset.forName("GBK"))).doesNotContain("h\u00e9");
        HttpRequest request = HttpRequest.newBuilder(URI.create(gw.baseUrl() + "/mcp"))
                .timeout(Duration.ofSeconds(10))
                .header("Accept", "application/json, text/event-stream")
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofByteArray(gbk)).build();
        HttpResponse<String> response = gw.send(request);
        assertThat(response.statusCode()).isEqualTo(415);
        assertThat(error(response).path("message").asText()).contains("application/json");
        assertNothingForwarded();
    }

    @Test
    void contentCodedBodyIs415AndNeverForwarded() throws Exception {
        HttpResponse<String> response = post(GatewayHarness.toolCall(1, "echo"), "Content-Encoding", "gzip");
        assertThat(response.statusCode()).isEqualTo(415);
        assertThat(error(response).path("message").asText()).contains("Content-Encoding");
        assertNothingForwarded();
    }

    @Test
    void utf8BodyIsForwardedAsApplicationJsonOnly() {
        post(GatewayHarness.toolCall(1, "echo"), "Content-Type", "application/json; charset=\"UTF-8\"; profile=x");
        assertThat(upstream.requests()).anySatisfy(r -> {
            assertThat(r.body()).contains("tools/call");
            assertThat(r.header("Content-Type")).isEqualTo("application/json");
        });
    }

    // --- item 7: header values built only from their grammar ----------------------------------

    @Test
    void scopeWithAQuoteOrCrLfNeverReachesWwwAuthenticate() {
        String hostile = idp.accessToken(RESOURCE, null, Map.of("scope", List.of(
                "mcp:tools", "x\", resource_metadata=\"https://evil.example/prm", "a\r\nSet-Cookie: s=1")));
        HttpRequest request = gw.post(GatewayHarness.toolCall(1, "whoami")).header("Authorization", "Bearer " + hostile).build();
        HttpResponse<String> response = gw.send(request);
        assertThat(response.statusCode()).isEqualTo(403);
        String challenge = response.headers().firstValue("WWW-Authenticate").orElseThrow();
        assertThat(challenge).contains("error=\"insufficient_scope\"", "scope=\"mcp:tools mcp:write\"")
                .doesNotContain("evil", "Set-Cookie");
        assertThat(challenge.split("resource_metadata=", -1)).hasSize(2);
        assertThat(response.headers().firstValue("Set-Cookie")).isEmpty();
        assertNothingForwarded();
    }

    // --- item 8: crafted session ids -----------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {
            "eyJhbGciOiJkaXIifQ..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA",
            "e30..A.A.A",
            "bnVsbA..A.A.A",
            "not-a-session",
    })
    void craftedSessionIdIs404WithoutAStackTraceAndNeverForwarded(String sessionId) {
        int before = CapturingAppender.lines().size();
        HttpResponse<String> response = post(GatewayHarness.toolCall(1, "echo"), "Mcp-Session-Id", sessionId);
        assertThat(response.statusCode()).isEqualTo(404);
        List<String> logged = CapturingAppender.lines().subList(before, CapturingAppender.lines().size());
        assertThat(logged).noneSatisfy(line -> assertThat(line).containsAnyOf("unexpected failure", " at com.nimbusds", "Exception: "));
        assertNothingForwarded();
    }

    @Test
    void malformedQueryIsA400NotA500AndNeverForwarded() throws Exception {
        // java.net.URI refuses "%zz", so the request is written by hand.
        String body = GatewayHarness.toolCall(1, "echo");
        String head = "POST /mcp?x=%zz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Accept: application/json, text/event-stream\r\nAuthorization: Bearer " + token + "\r\n"
                + "Content-Length: " + body.length() + "\r\nConnection: close\r\n\r\n";
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", gw.gateway.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write((head + body).getBytes(StandardCharsets.US_ASCII));
            String status = new java.io.BufferedReader(new java.io.InputStreamReader(socket.getInputStream(),
                    StandardCharsets.US_ASCII)).readLine();
            assertThat(status).startsWith("HTTP/1.1 400");
        }
        assertNothingForwarded();
    }
}
