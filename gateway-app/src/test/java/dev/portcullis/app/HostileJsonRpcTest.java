package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile JSON-RPC bodies against a route whose policy allows exactly one tool, {@code echo}
 * (issue 6; POLICY-02/03/07, JSONRPC-01/05, TRANSPORT-12). Every body is either refused or decided
 * on exactly what the upstream will read; nothing undecided is forwarded, which the recording
 * upstream (a real Java MCP SDK server) proves. The session is initialised at 2025-03-26, the
 * revision that allows batches, so batches are judged element by element; the route refuses a batch
 * with a refused element whole ({@code batches: reject-whole}; partial forwarding is {@link BatchPolicyTest}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileJsonRpcTest {
    private static final String POLICY = """
            default: deny
            tools:
              echo: {}
            """;
    private final ObjectMapper json = new ObjectMapper();
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().policy(POLICY).config(peers -> GatewayHarness.config(
            peers.idp().issuer(), peers.upstreamUrl(), "allowed-hosts: [127.0.0.1], max-body-size: 4MiB", "",
            "policy: " + peers.policyFile() + "\nbatches: reject-whole")).build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();
    private String token;
    private String sessionId;

    @BeforeAll
    void initializeSession() throws Exception {
        token = idp.accessToken(RESOURCE, "mcp:tools");
        HttpResponse<String> initialized = send(("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                + "\"protocolVersion\":\"2025-03-26\",\"capabilities\":{},\"clientInfo\":{\"name\":\"hostile\",\"version\":\"1\"}}}")
                .getBytes(StandardCharsets.UTF_8));
        assertThat(initialized.statusCode()).as(initialized.body()).isEqualTo(200);
        sessionId = initialized.headers().firstValue("Mcp-Session-Id").orElse(null);
        assertThat(send("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}".getBytes(StandardCharsets.UTF_8))
                .statusCode()).isEqualTo(202);
    }

    private HttpResponse<String> send(byte[] body) {
        HttpRequest.Builder request = gw.post("").POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .header("Authorization", "Bearer " + token)
                .header("MCP-Protocol-Version", "2025-03-26")
                .timeout(Duration.ofSeconds(20));
        if (sessionId != null) {
            request.header("Mcp-Session-Id", sessionId);
        }
        return gw.send(request.build());
    }

    private HttpResponse<String> send(String body) {
        return send(body.getBytes(StandardCharsets.UTF_8));
    }

    private static String call(Object id, String nameJson) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":" + nameJson
                + ",\"arguments\":{\"text\":\"hi\"}}}";
    }

    private JsonNode error(HttpResponse<String> response) throws Exception {
        return json.readTree(response.body()).path("error");
    }

    private void assertNothingForwarded() {
        assertThat(upstream.requests()).as("requests the upstream received").isEmpty();
    }

    // --- not JSON -------------------------------------------------------------------------------

    static Stream<Arguments> notJson() {
        return Stream.of(
                Arguments.of("truncated", bytes("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"")),
                Arguments.of("two documents", bytes("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}{}")),
                Arguments.of("trailing garbage", bytes("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x")),
                Arguments.of("trailing comma", bytes("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",}")),
                Arguments.of("single quotes", bytes("{'jsonrpc':'2.0','id':1,'method':'ping'}")),
                Arguments.of("comment", bytes("/* hi */{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}")),
                Arguments.of("unquoted key", bytes("{jsonrpc:\"2.0\",\"id\":1,\"method\":\"ping\"}")),
                Arguments.of("NaN id", bytes("{\"jsonrpc\":\"2.0\",\"id\":NaN,\"method\":\"ping\"}")),
                Arguments.of("leading zero id", bytes("{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":\"ping\"}")),
                Arguments.of("raw control character in a string", bytes("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                        + "\"params\":{\"name\":\"ec\u0001ho\"}}")),
                Arguments.of("empty body", new byte[0]),
                Arguments.of("whitespace only", bytes(" \r\n\t")),
                Arguments.of("invalid UTF-8 in a tool name", withBytes("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                        + "\"params\":{\"name\":\"ech", new byte[] {(byte) 0xC3, (byte) 0x28}, "\"}}")),
                Arguments.of("lone continuation byte", withBytes("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                        + "\"params\":{\"name\":\"echo", new byte[] {(byte) 0x80}, "\"}}")),
                Arguments.of("truncated multi-byte sequence at the end", withBytes("{\"jsonrpc\":\"2.0\",\"id\":1,"
                        + "\"method\":\"ping\"}", new byte[] {(byte) 0xE2, (byte) 0x82}, "")));
    }

    static Stream<Arguments> notUtf8ButAcceptedByJackson() {
        String head = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"";
        String tail = "\",\"arguments\":{\"text\":\"hi\"}}}";
        return Stream.of(
                Arguments.of("overlong 2-byte 'e': decided as the allowed \"echo\"",
                        withBytes(head, new byte[] {(byte) 0xC1, (byte) 0xA5}, "cho" + tail)),
                Arguments.of("overlong 3-byte 'e'", withBytes(head, new byte[] {(byte) 0xE0, (byte) 0x81, (byte) 0xA5}, "cho" + tail)),
                Arguments.of("overlong '/'", withBytes(head + "echo", new byte[] {(byte) 0xC0, (byte) 0xAF}, tail)),
                Arguments.of("UTF-8 encoded surrogate", withBytes(head + "echo", new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, tail)),
                Arguments.of("code point above U+10FFFF", withBytes(head + "echo",
                        new byte[] {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, tail)),
                Arguments.of("UTF-16BE body", (head + "echo" + tail).getBytes(StandardCharsets.UTF_16BE)),
                Arguments.of("UTF-32LE body", (head + "echo" + tail).getBytes(java.nio.charset.Charset.forName("UTF-32LE"))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("notUtf8ButAcceptedByJackson")
    void invalidUtf8IsAParseErrorAndNeverForwarded(String name, byte[] body) throws Exception {
        HttpResponse<String> response = send(body);
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(error(response).path("code").asInt()).isEqualTo(-32700);
        assertNothingForwarded();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("notJson")
    void notJsonIsAParseErrorAndNeverForwarded(String name, byte[] body) throws Exception {
        HttpResponse<String> response = send(body);
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(error(response).path("code").asInt()).isEqualTo(-32700);
        assertThat(json.readTree(response.body()).has("id")).as("JSONRPC-03: no id on a parse error").isFalse();
        assertNothingForwarded();
    }

    // --- JSON, but not JSON-RPC -----------------------------------------------------------------

    static Stream<Arguments> notJsonRpc() {
        return Stream.of(
                Arguments.of("jsonrpc 1.0", "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}"),
                Arguments.of("jsonrpc as a number", "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}"),
                Arguments.of("no jsonrpc", "{\"id\":1,\"method\":\"ping\"}"),
                Arguments.of("missing method", "{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{\"name\":\"echo\"}}"),
                Arguments.of("method not a string", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":[\"tools/call\"]}"),
                Arguments.of("empty method", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}"),
                Arguments.of("id null", "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}"),
                Arguments.of("id object", "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}"),
                Arguments.of("id array", "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}"),
                Arguments.of("id float", "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}"),
                Arguments.of("id 1.0", "{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"ping\"}"),
                Arguments.of("id 1e2", "{\"jsonrpc\":\"2.0\",\"id\":1e2,\"method\":\"ping\"}"),
                Arguments.of("id true", "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}"),
                Arguments.of("params a string", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":\"echo\"}"),
                Arguments.of("response with both result and error", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}"),
                Arguments.of("a string", "\"tools/call\""),
                Arguments.of("a number", "42"),
                Arguments.of("null", "null"),
                Arguments.of("empty batch", "[]"),
                Arguments.of("batch of numbers", "[1,2,3]"),
                Arguments.of("nested batch", "[[" + call(1, "\"echo\"") + "]]"),
                Arguments.of("batch with one invalid element", "[" + call(1, "\"echo\"") + ",{\"jsonrpc\":\"2.0\",\"id\":null,"
                        + "\"method\":\"ping\"}]"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("notJsonRpc")
    void notJsonRpcIsAnInvalidRequestAndNeverForwarded(String name, String body) throws Exception {
        HttpResponse<String> response = send(body);
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(error(response).path("code").asInt()).isEqualTo(-32600);
        assertNothingForwarded();
    }

    // --- size and depth -------------------------------------------------------------------------

    @Test
    void transport12DepthBombIsRefusedWithoutForwarding() throws Exception {
        int depth = 100_000;
        HttpResponse<String> arrays = send("[".repeat(depth) + "]".repeat(depth));
        assertThat(arrays.statusCode()).isEqualTo(400);
        String deepArguments = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                + "\"arguments\":{\"text\":" + "{\"a\":".repeat(70) + "1" + "}".repeat(70) + "}}}";
        HttpResponse<String> objects = send(deepArguments);
        assertThat(objects.statusCode()).isEqualTo(400);
        assertNothingForwarded();
    }

    @Test
    void hugeArraysWithinTheBodyLimitAreDecidedOnTheToolName() throws Exception {
        String huge = "[" + "1,".repeat(600_000) + "1]"; // 1.2 MB of array, well within the 4 MiB limit
        long start = System.nanoTime();
        HttpResponse<String> hidden = send("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"delete_all\","
                + "\"arguments\":{\"rows\":" + huge + "}}}");
        assertThat(error(hidden).path("message").asText()).isEqualTo("Unknown tool: delete_all");
        assertNothingForwarded();

        HttpResponse<String> allowed = send("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                + "\"arguments\":{\"text\":\"big\",\"rows\":" + huge + "}}}");
        assertThat(allowed.statusCode()).isEqualTo(200);
        assertThat(upstream.requests()).singleElement().satisfies(r -> assertThat(r.body()).contains("\"name\":\"echo\"")
                .hasSizeGreaterThan(1_200_000));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(15));
    }

    @Test
    void bodyOverTheLimitIs413() {
        HttpResponse<String> response = send(call(1, "\"echo\"").replace("\"hi\"", "\"" + "a".repeat(5 * 1024 * 1024) + "\""));
        assertThat(response.statusCode()).isEqualTo(413);
        assertNothingForwarded();
    }

    // --- parser differentials -------------------------------------------------------------------

    static Stream<Arguments> duplicateKeys() {
        return Stream.of(
                Arguments.of("name: allowed first", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                        + "\"params\":{\"name\":\"echo\",\"name\":\"delete_all\"}}"),
                Arguments.of("name: allowed last", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                        + "\"params\":{\"name\":\"delete_all\",\"name\":\"echo\"}}"),
                Arguments.of("name: one spelled with an escape", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                        + "\"params\":{\"name\":\"echo\",\"na\\u006de\":\"delete_all\"}}"),
                Arguments.of("method", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"method\":\"tools/call\","
                        + "\"params\":{\"name\":\"delete_all\"}}"),
                Arguments.of("params", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"},"
                        + "\"params\":{\"name\":\"delete_all\"}}"),
                Arguments.of("id", "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"ping\"}"),
                Arguments.of("inside arguments", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                        + "\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"a\",\"text\":\"b\"}}}"),
                Arguments.of("in a batch element", "[" + call(1, "\"echo\"") + ",{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
                        + "\"params\":{\"name\":\"echo\",\"name\":\"delete_all\"}}]"));
    }

    @ParameterizedTest(name = "duplicate {0}")
    @MethodSource("duplicateKeys")
    void policy02DuplicateKeysAreRefusedSoTheGatewayNeverDecidesOnADifferentValue(String name, String body) throws Exception {
        HttpResponse<String> response = send(body);
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(error(response).path("code").asInt()).isIn(-32700, -32600);
        assertNothingForwarded();
    }

    @Test
    void policy02DuplicateNameIsAnInvalidRequestAsTheSpecSays() throws Exception {
        HttpResponse<String> response = send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                + "\"params\":{\"name\":\"safe\",\"name\":\"rm_rf\"}}");
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(error(response).path("code").asInt()).isEqualTo(-32600);
    }

    // --- tool names vs a policy that allows only "echo" (POLICY-03) ------------------------------

    static Stream<Arguments> lookalikeNames() {
        return Stream.of(
                Arguments.of("Cyrillic е (U+0435)", "\u0435cho"),
                Arguments.of("Cyrillic е, JSON-escaped", "\\u0435cho"),
                Arguments.of("Cyrillic о (U+043E)", "ech\u043e"),
                Arguments.of("zero-width joiner", "ec\u200dho"),
                Arguments.of("zero-width space", "echo\u200b"),
                Arguments.of("BOM prefix", "\ufeffecho"),
                Arguments.of("soft hyphen", "ec\u00adho"),
                Arguments.of("combining acute", "e\u0301cho"),
                Arguments.of("capitalised", "Echo"),
                Arguments.of("upper case", "ECHO"),
                Arguments.of("trailing space", "echo "),
                Arguments.of("leading space", " echo"),
                Arguments.of("trailing newline", "echo\\n"),
                Arguments.of("trailing NUL", "echo\\u0000"),
                Arguments.of("fullwidth (NFKC: echo)", "\uff45\uff43\uff48\uff4f"),
                Arguments.of("script small e (NFKC: echo)", "\u212fcho"),
                Arguments.of("mathematical bold (NFKC: echo)", "\ud835\udc1e\ud835\udc1c\ud835\udc21\ud835\udc28"),
                Arguments.of("lone surrogate", "echo\\ud800"),
                Arguments.of("glob-looking", "ech*"),
                Arguments.of("path-looking", "../echo"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("lookalikeNames")
    void policy03LookalikeToolNamesAreDeniedAsUnknown(String name, String tool) throws Exception {
        HttpResponse<String> response = send(call("\"u-1\"", "\"" + tool + "\""));
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode body = json.readTree(response.body());
        assertThat(body.path("id").asText()).isEqualTo("u-1");
        assertThat(body.path("error").path("code").asInt()).isEqualTo(-32602);
        assertThat(body.path("error").path("message").asText()).startsWith("Unknown tool: ").isNotEqualTo("Unknown tool: echo");
        assertNothingForwarded();
    }

    @Test
    void policy03AnEscapedSpellingOfTheAllowedNameIsTheAllowedName() throws Exception {
        // After JSON unescaping "\u0065cho" is "echo" for the upstream too: allowed, forwarded byte for byte.
        String body = call(3, "\"\\u0065cho\"");
        HttpResponse<String> response = send(body);
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).contains("hi").doesNotContain("\"error\"");
        assertThat(upstream.requests()).singleElement().satisfies(r -> assertThat(r.body()).isEqualTo(body));
    }

    static Stream<Arguments> namesOfTheWrongType() {
        String head = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":";
        return Stream.of(
                Arguments.of("name as an array", head + "{\"name\":[\"echo\"]}}"),
                Arguments.of("name as a number", head + "{\"name\":5}}"),
                Arguments.of("name null", head + "{\"name\":null}}"),
                Arguments.of("name as an object", head + "{\"name\":{\"name\":\"echo\"}}}"),
                Arguments.of("no name", head + "{\"arguments\":{}}}"),
                Arguments.of("params as an array", head + "[\"echo\"]}"),
                Arguments.of("no params", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}"),
                Arguments.of("Name capitalised", head + "{\"Name\":\"echo\"}}"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("namesOfTheWrongType")
    void aToolCallWithoutAStringNameIsRefused(String name, String body) throws Exception {
        HttpResponse<String> response = send(body);
        assertThat(response.statusCode()).isIn(200, 400, 403);
        assertThat(json.readTree(response.body()).has("error")).isTrue();
        assertNothingForwarded();
    }

    static Stream<Arguments> methodLookalikes() {
        return Stream.of("tools/call ", "Tools/Call", "TOOLS/CALL", "tools//call", "/tools/call", "tools/call\\u0000",
                "tools\\/call\\u200b").map(Arguments::of);
    }

    @ParameterizedTest(name = "\"{0}\"")
    @MethodSource("methodLookalikes")
    void lookalikeMethodsAreUnknownMethods(String method) throws Exception {
        HttpResponse<String> response = send("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method + "\",\"params\":{\"name\":\"echo\"}}");
        assertThat(error(response).path("code").asInt()).isEqualTo(-32601);
        assertNothingForwarded();
    }

    // --- batches (POLICY-07, JSONRPC-05) ----------------------------------------------------------

    @Test
    void policy07AHiddenCallInsideABatchOfAllowedCallsRefusesTheWholeBatch() throws Exception {
        String batch = "[" + call(1, "\"echo\"") + "," + call(2, "\"\u0435cho\"") + "," + call(3, "\"echo\"")
                + ",{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}]";
        HttpResponse<String> response = send(batch);
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode answers = json.readTree(response.body());
        assertThat(answers.isArray()).isTrue();
        assertThat(answers).hasSize(3);
        assertThat(answers.get(1).path("error").path("message").asText()).isEqualTo("Unknown tool: \u0435cho");
        assertThat(answers.get(0).path("error").isMissingNode()).isFalse();
        assertNothingForwarded();
    }

    /**
     * POLICY-07 and issue 12 item 10: a 10,000-element batch (the last element denied) is refused whole, as one
     * JSON-RPC error, before any element is decided (listen.max-batch-size, default 100); nothing is forwarded.
     */
    @Test
    void policy07ATenThousandElementBatchIsRefusedWholeBeforeAnyWorkAndNothingIsForwarded() throws Exception {
        StringBuilder batch = new StringBuilder("[");
        for (int i = 1; i < 10_000; i++) {
            batch.append(call(i, "\"echo\"")).append(',');
        }
        batch.append(call(10_000, "\"delete_all\"")).append(']');
        long start = System.nanoTime();
        HttpResponse<String> response = send(batch.toString());
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode error = json.readTree(response.body());
        assertThat(error.isObject()).isTrue();
        assertThat(error.at("/error/code").asInt()).isEqualTo(-32600);
        assertThat(error.at("/error/message").asText()).isEqualTo("Invalid Request: batch too large (at most 100 messages)");
        assertNothingForwarded();
        assertThat(took).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void theSessionStillWorksAfterAllThis() throws Exception {
        HttpResponse<String> response = send(call(99, "\"echo\""));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).contains("hi");
        assertThat(upstream.requests()).hasSize(1);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] withBytes(String before, byte[] raw, String after) {
        byte[] a = bytes(before);
        byte[] c = bytes(after);
        byte[] out = new byte[a.length + raw.length + c.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(raw, 0, out, a.length, raw.length);
        System.arraycopy(c, 0, out, a.length + raw.length, c.length);
        return out;
    }
}
