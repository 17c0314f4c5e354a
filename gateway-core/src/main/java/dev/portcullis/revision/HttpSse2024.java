package dev.portcullis.revision;

import dev.portcullis.authn.Principal;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.failure.FailureResponses;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.route.Route;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.URI;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * 2024-11-05 HTTP+SSE (routes with {@code transport: sse}; TRANSPORT-11, SESSION-07). The caller holds one GET
 * stream; its {@code endpoint} event names where to POST messages, with the session in that URL's query
 * ({@code sessionId}, a gateway id sealing the upstream's endpoint). Every answer travels on the stream: a
 * POST is answered 202, and a refusal the gateway makes after the request was read goes on the stream too.
 * No batches. The GET stream answers the requests POSTed for it, so it is not a standing stream.
 */
public final class HttpSse2024 implements McpRevision {
    public static final HttpSse2024 REVISION = new HttpSse2024();

    private HttpSse2024() {}

    @Override
    public String toString() {
        return name();
    }

    @Override
    public String name() {
        return "2024-11-05";
    }

    @Override
    public void admit(HttpHeaders headers, List<McpMessage> messages, boolean batch) {
        if (batch) {
            // JSONRPC-05: batches exist only in 2025-03-26.
            SessionRules.requireNoEnvelopeInBatch(messages);
            throw SessionRules.batchNotSupported(headers.get("MCP-Protocol-Version"));
        }
        SessionRules.requireKnownVersion(headers, messages, false);
    }

    @Override
    public Optional<String> upstreamSession(RequestHead head, Principal principal, Route route, SessionBinding sessions) {
        String gatewayId = sessionId(head.uri());
        return gatewayId == null ? Optional.empty() : Optional.of(sessions.open(gatewayId, principal, route.name()));
    }

    /**
     * The {@code sessionId} of a message endpoint's query. A query that cannot be decoded, or that names the
     * session more than once, names no session this gateway issued: 404 (issue 12).
     */
    static String sessionId(String uri) {
        List<String> ids;
        try {
            ids = new QueryStringDecoder(uri).parameters().getOrDefault("sessionId", List.of());
        } catch (IllegalArgumentException malformed) {
            throw GatewayFailure.of(Reason.SESSION_NOT_FOUND, "Session not found", "query with malformed percent-encoding");
        }
        if (ids.size() > 1) {
            throw GatewayFailure.of(Reason.SESSION_NOT_FOUND, "Session not found", "more than one sessionId");
        }
        return ids.isEmpty() ? null : ids.get(0);
    }

    /** A POST to the announced endpoint goes to the upstream endpoint sealed in its session id. */
    @Override
    public URI upstreamTarget(Route route, RequestHead head, Optional<String> upstreamSession) {
        return upstreamSession.map(endpoint -> route.config().upstreamUri().resolve(endpoint))
                .orElseGet(() -> route.upstreamUri(head.path(), head.rawQuery()));
    }

    /** The session is in the target's query: no session header goes upstream. */
    @Override
    public void upstreamHeaders(List<McpMessage> messages, Optional<String> upstreamSession, HttpHeaders upstream) {
        upstream.remove("Mcp-Session-Id");
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

    @Override
    public boolean standingStream(HttpMethod method, List<McpMessage> messages) {
        return false;
    }

    @Override
    public boolean endpointStream(HttpMethod method) {
        return HttpMethod.GET.equals(method);
    }

    /**
     * Answers travel on the caller's stream (TRANSPORT-11): a refusal of a POSTed message (a policy denial, say)
     * is put there when the stream is open in this process, and the POST gets 202. A step-up challenge is not:
     * it is an HTTP answer the client must see on the POST.
     */
    @Override
    public boolean refusedOnCallerStream(GatewayFailure failure, Optional<String> upstreamSession,
                                         FailureResponses failures, CallerStreams streams) {
        if (upstreamSession.isEmpty() || failure.reason() == Reason.INSUFFICIENT_SCOPE) {
            return false;
        }
        byte[] error = failures.jsonRpcError(failure);
        return error != null && streams.deliver(upstreamSession.get(), error);
    }
}
