package dev.portcullis.inspect;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Set;

/**
 * The 2026-07-28 request rules the gateway enforces before policy runs or the upstream is
 * contacted (V26-2, -3, -4, -8, -9, -23, -27). Policy still decides from the body only (V26-10);
 * these checks only make sure the headers an intermediary or the upstream may read agree with it.
 */
final class ModernRequestRules {
    /** Methods that exist only in the legacy revisions (V26-27). */
    private static final Set<String> REMOVED = Set.of("ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe");

    private ModernRequestRules() {}

    /** The envelope's version, or null when the message is not modern. */
    static String envelopeVersion(McpMessage message) {
        JsonNode version = message.params() == null ? null : message.params().path("_meta").get(Era.VERSION_KEY);
        return version == null ? null : version.asText();
    }

    static void check(McpMessage message, String version, HttpHeaders headers) {
        JsonNode id = message.kind() == McpMessage.Kind.REQUEST ? message.id() : null;
        // Header agreement first, then whether the version is served (the order the TypeScript SDK's
        // server and the conformance suite use: a mismatch is -32020 even for an unknown version).
        String header = headers.get("MCP-Protocol-Version");
        if (header == null || !header.strip().equals(version)) {
            throw mismatch(id, "MCP-Protocol-Version header missing or different from the envelope");
        }
        if (!Era.MODERN_VERSIONS.contains(version)) {
            throw GatewayFailure.of(Reason.UNSUPPORTED_VERSION, "Unsupported protocol version", "envelope " + version)
                    .withJsonRpcId(id).withData(Map.of("supported", Era.MODERN_VERSIONS, "requested", version));
        }
        if (message.params().path("_meta").get(Era.CAPABILITIES_KEY) == null) {
            throw GatewayFailure.of(Reason.INVALID_PARAMS, "Invalid params: missing " + Era.CAPABILITIES_KEY,
                    "modern envelope without client capabilities").withJsonRpcId(id);
        }
        String method = headers.get("Mcp-Method");
        if (message.kind() == McpMessage.Kind.NOTIFICATION) {
            // V26-23: not required on notifications, but never allowed to disagree.
            if (method != null && !method.strip().equals(message.method())) {
                throw mismatch(null, "Mcp-Method differs from the body");
            }
            if (message.method().equals("notifications/roots/list_changed")) {
                throw GatewayFailure.of(Reason.INVALID_JSONRPC, "Invalid Request", "roots were removed in 2026-07-28");
            }
            return;
        }
        if (method == null || !method.strip().equals(message.method())) {
            throw mismatch(id, "Mcp-Method missing or different from the body");
        }
        if (message.target().isPresent() && needsName(message.method())) {
            String name = headers.get("Mcp-Name");
            if (name == null || !decoded(name.strip(), id).equals(message.target().get())) {
                throw mismatch(id, "Mcp-Name missing or different from the body");
            }
        }
        if (REMOVED.contains(message.method())) {
            throw GatewayFailure.of(Reason.MODERN_METHOD_NOT_FOUND, "Method not found", message.method()
                    + " does not exist in 2026-07-28").withJsonRpcId(id);
        }
    }

    static boolean needsName(String method) {
        return method.equals("tools/call") || method.equals("resources/read") || method.equals("prompts/get");
    }

    /** V26-9: only {@code =?base64?…?=} (lower-case markers) is decoded; anything else is literal. */
    static String decoded(String value, JsonNode id) {
        if (value.startsWith("=?base64?") && value.endsWith("?=") && value.length() >= 11) {
            try {
                return new String(Base64.getDecoder().decode(value.substring(9, value.length() - 2)), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw mismatch(id, "malformed base64 in Mcp-Name");
            }
        }
        return value;
    }

    private static GatewayFailure mismatch(JsonNode id, String detail) {
        return GatewayFailure.of(Reason.HEADER_MISMATCH, "Header mismatch", detail).withJsonRpcId(id);
    }
}
