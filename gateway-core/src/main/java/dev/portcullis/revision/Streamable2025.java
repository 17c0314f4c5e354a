package dev.portcullis.revision;

import dev.portcullis.authn.Principal;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.route.Route;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Streamable HTTP (2025-03-26, 2025-06-18, 2025-11-25). The session is the {@code Mcp-Session-Id} header: the
 * client holds the gateway's id, sealing the upstream's for this principal and route (SESSION-03), and the
 * upstream gets its own back. {@code MCP-Protocol-Version}, when present, must be a known version
 * (TRANSPORT-09); batches exist only in 2025-03-26 (JSONRPC-05). A GET opens a standing stream (server
 * messages that answer no request of the caller's).
 */
public final class Streamable2025 implements McpRevision {
    public static final Streamable2025 REVISION = new Streamable2025();

    private Streamable2025() {}

    @Override
    public String toString() {
        return name();
    }

    @Override
    public String name() {
        return "2025";
    }

    @Override
    public void admit(HttpHeaders headers, List<McpMessage> messages, boolean batch) {
        if (batch) {
            SessionRules.requireNoEnvelopeInBatch(messages);
            // JSONRPC-05: a batch naming a later (or the 2024-11-05) revision in MCP-Protocol-Version, or holding
            // an initialize, is an invalid request. A 2025-03-26 client sends no version header.
            String header = headers.get("MCP-Protocol-Version");
            if (header != null && !header.strip().equals("2025-03-26")) {
                throw SessionRules.batchNotSupported(header);
            }
            if (messages.stream().anyMatch(m -> "initialize".equals(m.method()))) {
                throw GatewayFailure.of(Reason.INVALID_JSONRPC, "Invalid Request", "initialize inside a batch");
            }
        }
        SessionRules.requireKnownVersion(headers, messages, batch);
    }

    @Override
    public Optional<String> upstreamSession(RequestHead head, Principal principal, Route route, SessionBinding sessions) {
        String gatewayId = sessionId(head.headers());
        return gatewayId == null ? Optional.empty() : Optional.of(sessions.open(gatewayId, principal, route.name()));
    }

    /** {@code Mcp-Session-Id}, given once; two of them name no one session (404, issue 12). */
    static String sessionId(HttpHeaders headers) {
        List<String> ids = headers.getAll("Mcp-Session-Id");
        if (ids.size() > 1) {
            throw GatewayFailure.of(Reason.SESSION_NOT_FOUND, "Session not found", "more than one Mcp-Session-Id");
        }
        return ids.isEmpty() ? null : ids.get(0);
    }

    /** The client holds the gateway's session id; the upstream gets its own back. */
    @Override
    public void upstreamHeaders(List<McpMessage> messages, Optional<String> upstreamSession, HttpHeaders upstream) {
        upstream.remove("Mcp-Session-Id");
        upstreamSession.ifPresent(id -> upstream.set("Mcp-Session-Id", id));
        SessionRules.removeMirrored(upstream);
    }

    @Override
    public String protocolVersion(HttpHeaders headers) {
        return headers.get("MCP-Protocol-Version");
    }

    @Override
    public GatewayFailure notServed(McpMessage first, Set<McpRevision> served) {
        return SessionRules.notServed(this, first, served);
    }

    /** A GET stream carries what the server sends on its own: it answers no request. */
    @Override
    public boolean standingStream(HttpMethod method, List<McpMessage> messages) {
        return HttpMethod.GET.equals(method);
    }
}
