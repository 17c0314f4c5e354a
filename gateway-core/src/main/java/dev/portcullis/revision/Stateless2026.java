package dev.portcullis.revision;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.authn.Principal;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.route.Route;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * 2026-07-28, stateless. A request names its version in {@code params._meta} ({@value McpRevision#VERSION_KEY});
 * the {@code MCP-Protocol-Version}, {@code Mcp-Method} and {@code Mcp-Name} headers must agree with the body
 * (V26-2, -3, -4, -8, -9, -23, -27) and are rebuilt from the forwarded body on the way upstream (V26-11).
 * No sessions (V26-15), no batches, no server-to-client requests (V26-29); {@code subscriptions/listen} opens a
 * standing stream tagged with its subscription (V26-20); results carry cache hints the gateway makes safe
 * (V26-32, V26-33). Policy still decides from the body only (V26-10): these checks only make sure the headers an
 * intermediary or the upstream may read agree with it.
 */
public final class Stateless2026 implements McpRevision {
    public static final Stateless2026 REVISION = new Stateless2026();
    /** The method that opens a listen stream (V26-20). */
    public static final String LISTEN = "subscriptions/listen";
    /** Methods that exist only in the session revisions (V26-27). */
    private static final Set<String> REMOVED = Set.of("ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe");

    private Stateless2026() {}

    @Override
    public String toString() {
        return name();
    }

    @Override
    public String name() {
        return "2026-07-28";
    }

    /** The envelope's version, or null when the message is not 2026-07-28. */
    public static String envelopeVersion(McpMessage message) {
        JsonNode version = message.params() == null ? null : message.params().path("_meta").get(VERSION_KEY);
        return version == null ? null : version.asText();
    }

    @Override
    public void admit(HttpHeaders headers, List<McpMessage> messages, boolean batch) {
        McpMessage message = messages.get(0); // chosen only for one message carrying the envelope
        check(message, envelopeVersion(message), headers);
    }

    static void check(McpMessage message, String version, HttpHeaders headers) {
        JsonNode id = message.kind() == McpMessage.Kind.REQUEST ? message.id() : null;
        // Header agreement first, then whether the version is served (the order the TypeScript SDK's
        // server and the conformance suite use: a mismatch is -32020 even for an unknown version).
        String header = headers.get("MCP-Protocol-Version");
        if (header == null || !header.strip().equals(version)) {
            throw mismatch(id, "MCP-Protocol-Version header missing or different from the envelope");
        }
        if (!MODERN_VERSIONS.contains(version)) {
            throw GatewayFailure.of(Reason.UNSUPPORTED_VERSION, "Unsupported protocol version", "envelope " + version)
                    .withJsonRpcId(id).withData(Map.of("supported", MODERN_VERSIONS, "requested", version));
        }
        if (message.params().path("_meta").get(CAPABILITIES_KEY) == null) {
            throw GatewayFailure.of(Reason.INVALID_PARAMS, "Invalid params: missing " + CAPABILITIES_KEY,
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

    /** V26-15: a 2026-07-28 request has no session; an {@code Mcp-Session-Id} it carries is ignored. */
    @Override
    public Optional<String> upstreamSession(RequestHead head, Principal principal, Route route, SessionBinding sessions) {
        return Optional.empty();
    }

    /**
     * V26-11: {@code MCP-Protocol-Version}, {@code Mcp-Method} and {@code Mcp-Name} are rebuilt from the exact
     * body being forwarded, never copied from the client; {@code Mcp-Param-*} pass unchanged (V26-12). No
     * session id goes upstream.
     */
    @Override
    public void upstreamHeaders(List<McpMessage> messages, Optional<String> upstreamSession, HttpHeaders upstream) {
        upstream.remove("Mcp-Session-Id");
        upstream.remove("Mcp-Method");
        upstream.remove("Mcp-Name");
        McpMessage message = messages.get(0);
        upstream.set("MCP-Protocol-Version", envelopeVersion(message));
        upstream.set("Mcp-Method", message.method());
        message.target().ifPresent(name -> {
            if (needsName(message.method())) {
                upstream.set("Mcp-Name", headerValue(name));
            }
        });
    }

    /** Visible ASCII as it is; anything else Base64-wrapped as V26-9 defines. */
    static String headerValue(String name) {
        boolean plain = !name.isEmpty() && name.chars().allMatch(c -> c >= 0x21 && c <= 0x7E)
                && !name.startsWith("=?base64?");
        return plain ? name : "=?base64?" + Base64.getEncoder().encodeToString(name.getBytes(StandardCharsets.UTF_8)) + "?=";
    }

    @Override
    public String protocolVersion(HttpHeaders headers) {
        return name();
    }

    /** V26-25: a method the route does not know is a 404. */
    @Override
    public Reason methodNotFound() {
        return Reason.MODERN_METHOD_NOT_FOUND;
    }

    /** A non-2026 error for a 2026 request, so a client that speaks both falls back to {@code initialize} (V26-45). */
    @Override
    public GatewayFailure notServed(McpMessage first, Set<McpRevision> served) {
        return GatewayFailure.of(Reason.ERA_NOT_SERVED,
                "Unsupported protocol version: this server supports 2025-11-25, 2025-06-18, 2025-03-26",
                name() + " request to an upstream that speaks " + SessionRules.names(served))
                .withJsonRpcId(first != null && first.kind() == McpMessage.Kind.REQUEST ? first.id() : null);
    }

    @Override
    public Optional<McpMessage> listenRequest(List<McpMessage> messages) {
        if (messages.size() != 1) {
            return Optional.empty();
        }
        McpMessage only = messages.get(0);
        return only.kind() == McpMessage.Kind.REQUEST && LISTEN.equals(only.method()) ? Optional.of(only) : Optional.empty();
    }

    /** A listen stream answers no request but its own subscription: it ends when the gateway drains (V26-21). */
    @Override
    public boolean standingStream(HttpMethod method, List<McpMessage> messages) {
        return listenRequest(messages).isPresent();
    }

    @Override
    public boolean dropsServerRequests() {
        return true;
    }

    /** V26-33: a cached list may not outlive a policy change. */
    @Override
    public long cacheHintCeilingMillis(Route route) {
        return route.config().policyReloadInterval().toMillis();
    }

    @Override
    public boolean narrowsDiscover() {
        return true;
    }

    @Override
    public boolean traceContextInMeta() {
        return true;
    }
}
