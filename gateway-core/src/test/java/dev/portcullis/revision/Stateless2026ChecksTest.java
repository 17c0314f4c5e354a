package dev.portcullis.revision;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.inspect.McpMessage;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** The 2026-07-28 room's inbound checks: header/body agreement (V26-2, -3, -4, -8, -9, -23, -27). */
class Stateless2026ChecksTest {
    private static final String META = "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"%s\","
            + "\"io.modelcontextprotocol/clientCapabilities\":{}}";

    private static McpMessage call(String tool, String version) {
        String body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":{}," + META.formatted(version) + "}}";
        return new JsonRpcInspector().inspect(body.getBytes(StandardCharsets.UTF_8)).get(0);
    }

    private static HttpHeaders headers(String method, String name) {
        HttpHeaders h = new DefaultHttpHeaders().set("MCP-Protocol-Version", "2026-07-28");
        if (method != null) h.set("Mcp-Method", method);
        if (name != null) h.set("Mcp-Name", name);
        return h;
    }

    private static void assertRejected(McpMessage message, HttpHeaders headers, Reason reason) {
        assertThatThrownBy(() -> Stateless2026.check(message, Stateless2026.envelopeVersion(message), headers))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> {
                    assertThat(f.reason()).isEqualTo(reason);
                    assertThat(f.jsonRpcId().asInt()).isEqualTo(1); // V26-24: the error carries the request id
                });
    }

    @Test
    void matchingHeadersPass() {
        assertThatCode(() -> Stateless2026.check(call("echo", "2026-07-28"), "2026-07-28", headers("tools/call", "echo")))
                .doesNotThrowAnyException();
    }

    @Test
    void v26_8MissingOrDifferentMethodOrNameIsAMismatch() {
        assertRejected(call("echo", "2026-07-28"), headers(null, "echo"), Reason.HEADER_MISMATCH);
        assertRejected(call("echo", "2026-07-28"), headers("tools/list", "echo"), Reason.HEADER_MISMATCH);
        assertRejected(call("echo", "2026-07-28"), headers("tools/call", null), Reason.HEADER_MISMATCH);
        assertRejected(call("delete_all", "2026-07-28"), headers("tools/call", "safe_tool"), Reason.HEADER_MISMATCH);
        assertRejected(call("echo", "2026-07-28"), headers("tools/call", "Echo"), Reason.HEADER_MISMATCH);
        assertRejected(call("echo", "2026-07-28"), headers("Tools/Call", "echo"), Reason.HEADER_MISMATCH);
    }

    @Test
    void v26_9Base64WrappedNamesAreDecodedAndMalformedOnesRejected() {
        String wrapped = "=?base64?" + Base64.getEncoder().encodeToString("éçho".getBytes(StandardCharsets.UTF_8)) + "?=";
        assertThatCode(() -> Stateless2026.check(call("éçho", "2026-07-28"), "2026-07-28", headers("tools/call", wrapped)))
                .doesNotThrowAnyException();
        assertRejected(call("echo", "2026-07-28"), headers("tools/call", "=?base64?***?="), Reason.HEADER_MISMATCH);
        // Upper-case markers are not the wrapping: compared literally.
        assertRejected(call("echo", "2026-07-28"), headers("tools/call", "=?BASE64?ZWNobw==?="), Reason.HEADER_MISMATCH);
    }

    @Test
    void v26_3VersionHeaderMustEqualTheEnvelope() {
        HttpHeaders h = headers("tools/call", "echo");
        h.remove("MCP-Protocol-Version");
        assertRejected(call("echo", "2026-07-28"), h, Reason.HEADER_MISMATCH);
        assertRejected(call("echo", "2026-07-28"), headers("tools/call", "echo").set("MCP-Protocol-Version", "2025-11-25"),
                Reason.HEADER_MISMATCH);
    }

    @Test
    void v26_2UnsupportedVersionNamesWhatIsSupported() {
        assertThatThrownBy(() -> Stateless2026.check(call("echo", "2099-01-01"), "2099-01-01",
                headers("tools/call", "echo").set("MCP-Protocol-Version", "2099-01-01")))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> {
                    assertThat(f.reason()).isEqualTo(Reason.UNSUPPORTED_VERSION);
                    assertThat(f.data()).containsEntry("requested", "2099-01-01");
                    assertThat(f.data().get("supported").toString()).contains("2026-07-28");
                });
    }

    @Test
    void v26_4EnvelopeWithoutClientCapabilitiesIsInvalidParams() {
        String body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":"
                + "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}";
        McpMessage m = new JsonRpcInspector().inspect(body.getBytes(StandardCharsets.UTF_8)).get(0);
        assertRejected(m, headers("tools/list", null), Reason.INVALID_PARAMS);
    }

    @Test
    void v26_27RemovedMethodsAre404() {
        String body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{" + META.formatted("2026-07-28") + "}}";
        McpMessage m = new JsonRpcInspector().inspect(body.getBytes(StandardCharsets.UTF_8)).get(0);
        assertRejected(m, headers("ping", null), Reason.MODERN_METHOD_NOT_FOUND);
    }

    @Test
    void v26_23NotificationsNeedNoMethodHeaderButMayNotContradictTheBody() {
        String body = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{" + META.formatted("2026-07-28") + "}}";
        McpMessage m = new JsonRpcInspector().inspect(body.getBytes(StandardCharsets.UTF_8)).get(0);
        assertThatCode(() -> Stateless2026.check(m, "2026-07-28", headers(null, null))).doesNotThrowAnyException();
        assertThatThrownBy(() -> Stateless2026.check(m, "2026-07-28", headers("tools/call", null)))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.reason()).isEqualTo(Reason.HEADER_MISMATCH));
    }
}
