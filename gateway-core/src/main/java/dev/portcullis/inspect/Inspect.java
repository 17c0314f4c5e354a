package dev.portcullis.inspect;

import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.route.UpstreamEras;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Optional;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import io.netty.handler.codec.http.HttpMethod;
import java.util.List;
import dev.portcullis.listen.Inbound;
import dev.portcullis.listen.RequestHead;

/**
 * Stage 4: read the POST body (at most {@code max-body-size}: 413 beyond it) and classify its
 * JSON-RPC messages. GET and DELETE carry no body. The bytes are kept to be forwarded unchanged.
 */
public final class Inspect {
    private final long maxBodyBytes;
    private final BatchLimit batchLimit;
    private final SessionBinding sessions;
    private final UpstreamEras upstreamEras;
    private final JsonRpcInspector inspector = new JsonRpcInspector();

    public Inspect(long maxBodyBytes, int maxBatchSize, SessionBinding sessions, UpstreamEras upstreamEras) {
        this.maxBodyBytes = maxBodyBytes;
        this.batchLimit = new BatchLimit(maxBatchSize);
        this.sessions = sessions;
        this.upstreamEras = upstreamEras;
    }

    /**
     * Classifies the request's body. {@code body} is what the listener read; {@code state} says whether it
     * was whole, too large or too slow. Throws {@link GatewayFailure} for a request that cannot go on.
     */
    public InspectedRequest apply(AuthenticatedRequest authenticated, byte[] body, Inbound.BodyState state) {
        RequestHead request = authenticated.head();
        if (!HttpMethod.POST.equals(request.method())) {
            // GET and DELETE exist only in the legacy revisions.
            return legacy(authenticated, new byte[0], List.of(), false);
        }
        // Issue 12: one UTF-8 application/json body, not content-coded: what is inspected is what the upstream reads.
        JsonContentType.require(request.headers());
        long declared = request.headers().getInt("Content-Length", -1);
        if (declared > maxBodyBytes || state == Inbound.BodyState.TOO_LARGE || body.length > maxBodyBytes) {
            throw GatewayFailure.of(Reason.BODY_TOO_LARGE, "Request body too large");
        }
        if (state == Inbound.BodyState.TIMED_OUT) {
            throw GatewayFailure.of(Reason.REQUEST_TIMEOUT, "Request timeout", "body slower than listen.request-timeout");
        }
        batchLimit.check(body); // before any other work on the body (issue 12 item 10)
        List<McpMessage> messages = inspector.inspect(body);
        boolean batch = body.length > 0 && firstNonWhitespace(body) == '[';
        return classified(authenticated, body, messages, batch);
    }

    /** V26-1: the body decides the era; the header may only agree. */
    private InspectedRequest classified(AuthenticatedRequest authenticated, byte[] body, List<McpMessage> messages,
                                        boolean batch) {
        HttpHeaders headers = authenticated.head().headers();
        if (batch) {
            if (messages.stream().anyMatch(m -> ModernRequestRules.envelopeVersion(m) != null)) {
                throw GatewayFailure.of(Reason.INVALID_JSONRPC, "Invalid Request", "a batch holding a 2026-07-28 message");
            }
            requireBatchesAllowed(authenticated, headers, messages);
            return legacy(authenticated, body, messages, true);
        }
        McpMessage message = messages.get(0);
        String version = ModernRequestRules.envelopeVersion(message);
        if (version != null) {
            ModernRequestRules.check(message, version, headers);
            requireServed(authenticated, Era.MODERN, message);
            // V26-15: a modern request has no session; an Mcp-Session-Id it carries is ignored.
            return new InspectedRequest(authenticated, body, messages, false, Era.MODERN, version, Optional.empty());
        }
        String header = headers.get("MCP-Protocol-Version");
        if (header != null && Era.MODERN_VERSIONS.contains(header.strip())) {
            throw GatewayFailure.of(Reason.INVALID_PARAMS, "Invalid params: missing " + Era.VERSION_KEY,
                    "2026-07-28 header without an envelope").withJsonRpcId(
                    message.kind() == McpMessage.Kind.REQUEST ? message.id() : null);
        }
        return legacy(authenticated, body, messages, false);
    }

    /**
     * JSONRPC-05: batches exist only in 2025-03-26. A batch naming a later (or the 2024-11-05) revision
     * in {@code MCP-Protocol-Version}, sent on a 2024-11-05 HTTP+SSE route, or holding an
     * {@code initialize} is an invalid request (400, -32600). A 2025-03-26 client sends no version header.
     */
    private static void requireBatchesAllowed(AuthenticatedRequest authenticated, HttpHeaders headers, List<McpMessage> messages) {
        String header = headers.get("MCP-Protocol-Version");
        if ((header != null && !header.strip().equals("2025-03-26")) || authenticated.route().config().legacySse()) {
            throw GatewayFailure.of(Reason.INVALID_JSONRPC, "Invalid Request: batching not supported in this protocol version",
                    "batch under protocol version " + (header == null ? "2024-11-05" : header.strip()));
        }
        if (messages.stream().anyMatch(m -> "initialize".equals(m.method()))) {
            throw GatewayFailure.of(Reason.INVALID_JSONRPC, "Invalid Request", "initialize inside a batch");
        }
    }

    /** Mirror mode (V26-45): only the eras the upstream speaks are offered; unknown yet → nothing assumed. */
    private void requireServed(AuthenticatedRequest authenticated, Era era, McpMessage message) {
        var served = upstreamEras.of(authenticated.route());
        if (served.isEmpty() || served.contains(era)) {
            return;
        }
        // A non-modern error for a modern request, so a dual-era client falls back to initialize; for
        // a legacy request, a message naming the versions this route serves (V26-7).
        String versions = era == Era.MODERN ? "2025-11-25, 2025-06-18, 2025-03-26" : String.join(", ", Era.MODERN_VERSIONS);
        throw GatewayFailure.of(Reason.ERA_NOT_SERVED, "Unsupported protocol version: this server supports " + versions,
                era + " request to an upstream that speaks " + served)
                .withJsonRpcId(message != null && message.kind() == McpMessage.Kind.REQUEST ? message.id() : null);
    }

    /**
     * Legacy rules: a known {@code MCP-Protocol-Version} (TRANSPORT-09), and a session id, when
     * present, must be one this gateway issued to this principal on this route ({@link SessionBinding}).
     */
    private InspectedRequest legacy(AuthenticatedRequest authenticated, byte[] body, List<McpMessage> messages, boolean batch) {
        HttpHeaders headers = authenticated.head().headers();
        String header = headers.get("MCP-Protocol-Version");
        if (header != null && !Era.LEGACY_VERSIONS.contains(header.strip())) {
            List<String> supported = new java.util.ArrayList<>(Era.LEGACY_VERSIONS);
            supported.addAll(Era.MODERN_VERSIONS);
            supported.sort(java.util.Comparator.reverseOrder());
            throw GatewayFailure.of(Reason.UNSUPPORTED_VERSION, "Unsupported protocol version", "header " + header)
                    .withData(java.util.Map.of("supported", supported, "requested", header));
        }
        // 2024-11-05 HTTP+SSE carries the session in the message endpoint's query (SESSION-07).
        requireServed(authenticated, Era.LEGACY, messages.isEmpty() ? null : messages.get(0));
        String gatewayId = authenticated.route().config().legacySse()
                ? legacySessionId(authenticated.head().uri())
                : sessionHeader(headers);
        Optional<String> upstreamSession = gatewayId == null ? Optional.empty()
                : Optional.of(sessions.open(gatewayId, authenticated.principal(), authenticated.route().name()));
        return new InspectedRequest(authenticated, body, messages, batch, Era.LEGACY, null, upstreamSession);
    }

    /**
     * The {@code sessionId} of a 2024-11-05 message endpoint's query. A query that cannot be decoded, or
     * that names the session more than once, names no session this gateway issued: 404 (issue 12).
     */
    static String legacySessionId(String uri) {
        List<String> ids;
        try {
            ids = new io.netty.handler.codec.http.QueryStringDecoder(uri).parameters().getOrDefault("sessionId", List.of());
        } catch (IllegalArgumentException malformed) {
            throw GatewayFailure.of(Reason.SESSION_NOT_FOUND, "Session not found", "query with malformed percent-encoding");
        }
        if (ids.size() > 1) {
            throw GatewayFailure.of(Reason.SESSION_NOT_FOUND, "Session not found", "more than one sessionId");
        }
        return ids.isEmpty() ? null : ids.get(0);
    }

    /** {@code Mcp-Session-Id}, given once; two of them name no one session (404, issue 12). */
    static String sessionHeader(HttpHeaders headers) {
        List<String> ids = headers.getAll("Mcp-Session-Id");
        if (ids.size() > 1) {
            throw GatewayFailure.of(Reason.SESSION_NOT_FOUND, "Session not found", "more than one Mcp-Session-Id");
        }
        return ids.isEmpty() ? null : ids.get(0);
    }

    private static int firstNonWhitespace(byte[] body) {
        for (byte b : body) {
            if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
                return b;
            }
        }
        return -1;
    }
}
