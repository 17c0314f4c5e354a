package dev.portcullis.inspect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class JsonRpcInspectorTest {
    private final JsonRpcInspector inspector = new JsonRpcInspector();

    private List<McpMessage> inspect(String body) {
        return inspector.inspect(body.getBytes(StandardCharsets.UTF_8));
    }

    private void assertRejected(String body, Reason reason) {
        assertThatThrownBy(() -> inspect(body))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.reason()).isEqualTo(reason));
    }

    @Test
    void classifiesToolCallWithTarget() {
        McpMessage m = inspect("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{}}}").get(0);
        assertThat(m.kind()).isEqualTo(McpMessage.Kind.REQUEST);
        assertThat(m.method()).isEqualTo("tools/call");
        assertThat(m.target()).contains("echo");
    }

    @Test
    void operationCarriesToolArgumentsForPolicy() {
        McpMessage m = inspect("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
                + "\"params\":{\"name\":\"export\",\"arguments\":{\"limit\":5}}}").get(0);
        assertThat(m.operation().arguments().get("limit").intValue()).isEqualTo(5);
        McpMessage prompt = inspect("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"prompts/get\","
                + "\"params\":{\"name\":\"p\",\"arguments\":{\"tone\":\"formal\"}}}").get(0);
        assertThat(prompt.operation().arguments().get("tone").textValue()).isEqualTo("formal");
        McpMessage ping = inspect("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\",\"params\":{\"arguments\":1}}").get(0);
        assertThat(ping.operation().arguments().isMissingNode()).isTrue();
    }

    @Test
    void classifiesNotificationsAndResponses() {
        assertThat(inspect("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}").get(0).kind())
                .isEqualTo(McpMessage.Kind.NOTIFICATION);
        assertThat(inspect("{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"result\":{}}").get(0).kind())
                .isEqualTo(McpMessage.Kind.RESPONSE);
    }

    @Test
    void jsonrpc02LargeIdKeepsItsDigitsAndType() {
        McpMessage m = inspect("{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"ping\"}").get(0);
        assertThat(m.id().toString()).isEqualTo("9007199254740993");
        McpMessage s = inspect("{\"jsonrpc\":\"2.0\",\"id\":\"7\",\"method\":\"ping\"}").get(0);
        assertThat(s.id().isTextual()).isTrue();
    }

    @Test
    void jsonrpc01NullOrFractionalIdIsInvalid() {
        assertRejected("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", Reason.INVALID_JSONRPC);
        assertRejected("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", Reason.INVALID_JSONRPC);
    }

    @Test
    void jsonrpc01WrongVersionOrMissingMethodIsInvalid() {
        assertRejected("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", Reason.INVALID_JSONRPC);
        assertRejected("{\"jsonrpc\":\"2.0\",\"id\":1}", Reason.INVALID_JSONRPC);
        assertRejected("[]", Reason.INVALID_JSONRPC);
        assertRejected("42", Reason.INVALID_JSONRPC);
    }

    @Test
    void invalidRequestKeepsAReadableId() {
        assertThatThrownBy(() -> inspect("{\"jsonrpc\":\"1.0\",\"id\":5,\"method\":\"ping\"}"))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.jsonRpcId().asInt()).isEqualTo(5));
    }

    @Test
    void policy02DuplicateKeysAreRejected() {
        assertRejected("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"safe\",\"name\":\"rm_rf\"}}",
                Reason.INVALID_JSONRPC);
    }

    @Test
    void transport12DepthBombIsRejected() {
        String deep = "{\"a\":".repeat(200) + "1" + "}".repeat(200);
        assertRejected("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":" + deep + "}", Reason.PARSE_ERROR);
    }

    @Test
    void garbageAndTrailingTokensAreParseErrors() {
        assertRejected("not json", Reason.PARSE_ERROR);
        assertRejected("{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1} {}", Reason.PARSE_ERROR);
        assertRejected("", Reason.PARSE_ERROR);
    }

    @Test
    void batchElementsAreEachClassified() {
        List<McpMessage> batch = inspect("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"},"
                + "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}]");
        assertThat(batch).extracting(McpMessage::method).containsExactly("tools/list", "tools/call");
    }

    /**
     * A plain-ASCII body is parsed from its bytes; every other goes through the strict UTF-8 decoder first. Bodies
     * Jackson's byte parser would read as UTF-16 or UTF-32 (it guesses from zero bytes) are refused, never read as a
     * tool call.
     */
    @Test
    void utf16Or32BodiesAreRefusedAsParseErrorsAndNonAsciiUtf8StillReads() {
        String call = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}";
        assertThat(JsonRpcInspector.plainAscii(call.getBytes(StandardCharsets.US_ASCII))).isTrue();
        assertThat(JsonRpcInspector.plainAscii("{\"a\":\"\u00e9\"}".getBytes(StandardCharsets.UTF_8))).isFalse();
        assertThat(JsonRpcInspector.plainAscii(new byte[] {'{', 0, '}'})).isFalse();
        for (java.nio.charset.Charset wide : List.of(StandardCharsets.UTF_16BE, StandardCharsets.UTF_16LE,
                java.nio.charset.Charset.forName("UTF-32BE"), java.nio.charset.Charset.forName("UTF-32LE"))) {
            assertThatThrownBy(() -> inspector.inspect(call.getBytes(wide))).as(wide.name())
                    .isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.reason()).isEqualTo(Reason.PARSE_ERROR));
        }
        McpMessage m = inspect("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"caf\u00e9\"}}").get(0);
        assertThat(m.target()).contains("caf\u00e9");
    }
}
