package dev.portcullis.revision;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.McpMessage;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the two session revisions (2024-11-05 HTTP+SSE and 2025 streamable HTTP) share: the
 * {@code MCP-Protocol-Version} checks, the mirrored headers they never forward, and the refusal
 * when the upstream speaks only 2026-07-28.
 */
final class SessionRules {
    private SessionRules() {}

    /**
     * A request without the 2026 envelope: a 2026-07-28 {@code MCP-Protocol-Version} without it is invalid
     * (V26-1: the header may only agree with the body), and any other version must be one the gateway knows
     * (TRANSPORT-09).
     */
    static void requireKnownVersion(HttpHeaders headers, List<McpMessage> messages, boolean batch) {
        String header = headers.get("MCP-Protocol-Version");
        if (header == null) {
            return;
        }
        if (!batch && !messages.isEmpty() && MODERN.contains(header.strip())) {
            McpMessage message = messages.get(0);
            throw GatewayFailure.of(Reason.INVALID_PARAMS, "Invalid params: missing " + McpRevision.VERSION_KEY,
                    "2026-07-28 header without an envelope").withJsonRpcId(
                    message.kind() == McpMessage.Kind.REQUEST ? message.id() : null);
        }
        if (!McpRevision.LEGACY_VERSIONS.contains(header.strip())) {
            List<String> supported = new ArrayList<>(McpRevision.LEGACY_VERSIONS);
            supported.addAll(McpRevision.MODERN_VERSIONS);
            supported.sort(Comparator.reverseOrder());
            throw GatewayFailure.of(Reason.UNSUPPORTED_VERSION, "Unsupported protocol version", "header " + header)
                    .withData(Map.of("supported", supported, "requested", header));
        }
    }

    private static final Set<String> MODERN = Set.copyOf(McpRevision.MODERN_VERSIONS);

    /** A batch may hold no 2026-07-28 message (they are never batched). */
    static void requireNoEnvelopeInBatch(List<McpMessage> messages) {
        if (messages.stream().anyMatch(m -> Stateless2026.envelopeVersion(m) != null)) {
            throw GatewayFailure.of(Reason.INVALID_JSONRPC, "Invalid Request", "a batch holding a 2026-07-28 message");
        }
    }

    static GatewayFailure batchNotSupported(String header) {
        return GatewayFailure.of(Reason.INVALID_JSONRPC, "Invalid Request: batching not supported in this protocol version",
                "batch under protocol version " + (header == null ? "2024-11-05" : header.strip()));
    }

    /**
     * V26-10: for a session revision the mirrored headers are unvalidated claims: {@code Mcp-Method},
     * {@code Mcp-Name} and {@code Mcp-Param-*} are not sent upstream.
     */
    static void removeMirrored(HttpHeaders upstream) {
        upstream.remove("Mcp-Method");
        upstream.remove("Mcp-Name");
        List<CharSequence> params = null;
        // No names() set and no String per header: this runs on every session-revision call.
        for (var it = upstream.iteratorCharSequence(); it.hasNext(); ) {
            CharSequence name = it.next().getKey();
            if (io.netty.util.AsciiString.regionMatches(name, true, 0, "mcp-param-", 0, 10)) {
                (params == null ? params = new ArrayList<>() : params).add(name);
            }
        }
        if (params != null) {
            params.forEach(upstream::remove);
        }
    }

    /** V26-7: a session-revision request to an upstream that speaks only 2026-07-28 is told what the route serves. */
    static GatewayFailure notServed(McpRevision revision, McpMessage first, Set<McpRevision> served) {
        return GatewayFailure.of(Reason.ERA_NOT_SERVED, "Unsupported protocol version: this server supports "
                        + String.join(", ", McpRevision.MODERN_VERSIONS),
                revision.name() + " request to an upstream that speaks " + names(served))
                .withJsonRpcId(first != null && first.kind() == McpMessage.Kind.REQUEST ? first.id() : null);
    }

    static String names(Set<McpRevision> revisions) {
        return revisions.stream().map(McpRevision::name).sorted().toList().toString();
    }
}
