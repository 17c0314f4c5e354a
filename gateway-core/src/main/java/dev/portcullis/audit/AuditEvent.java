package dev.portcullis.audit;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One decision on one MCP message (or on a request refused before its messages were read), written as one
 * JSON object whose field names follow Elastic Common Schema and the OpenTelemetry semantic conventions
 * ({@code docs/observability.md} lists each field). Never holds a token, secret, cookie or authorization
 * code: the session id is represented by a SHA-256 prefix, the token sent upstream by its {@code jti}.
 *
 * @param timestamp      when the request arrived (UTC): the event's only timestamp
 * @param requestId      the gateway's id for the HTTP request
 * @param route          route name, or "-" when none matched
 * @param subject        {@code sub} of the caller, or null before authentication
 * @param issuer         {@code iss} of the caller's token
 * @param agent          the client acting for the subject
 * @param actor          the token's top-level {@code act} claim (IdP-issued delegation chain)
 * @param sessionId      SHA-256 prefix of {@code Mcp-Session-Id}, if any
 * @param httpMethod     the request's HTTP method
 * @param method         JSON-RPC method; "batch" for a batch; null for requests without a message (GET, DELETE)
 * @param target         tool name, resource URI or prompt name
 * @param jsonrpcId      the message's JSON-RPC id, as text
 * @param decision       allow, deny, step_up, unauthenticated, invalid, error
 * @param ruleId         the policy rule (or the failure reason) that decided
 * @param reason         human-readable reason
 * @param status         the HTTP status the client received
 * @param upstreamStatus the upstream's HTTP status, or null when the upstream was not called
 * @param durationNanos  time from request arrival to the end of the response
 * @param exchangedJti   {@code jti} of the token sent upstream, if any
 * @param clientAddress  the caller's IP address (the TCP peer)
 * @param userAgent      the caller's {@code User-Agent}, at most 256 characters
 * @param traceId        the trace the request belongs to (the gateway's span, or the caller's {@code traceparent})
 * @param spanId         the gateway's server span, when tracing is on
 * @param arguments      per the configured {@link ArgumentLogging}, or null
 * @param batch          for a batch summarised in one event: its counts and sample; null otherwise
 */
public record AuditEvent(Instant timestamp, String requestId, String route, String subject, String issuer, String agent,
                         Map<String, Object> actor, String sessionId, String httpMethod, String method, String target,
                         String jsonrpcId, String decision, String ruleId, String reason, int status, Integer upstreamStatus,
                         long durationNanos, String exchangedJti, String clientAddress, String userAgent, String traceId,
                         String spanId, Object arguments, Map<String, Object> batch) {

    /** The event as ordered fields, nulls left out; what the JSON encoder writes. */
    public Map<String, Object> fields() {
        Map<String, Object> f = new LinkedHashMap<>();
        put(f, "@timestamp", timestamp.toString());
        put(f, "event.action", method != null ? method : httpMethod);
        put(f, "event.outcome", "allow".equals(decision) ? "success" : "failure");
        put(f, "event.reason", reason);
        put(f, "event.duration", durationNanos);
        put(f, "rule.id", ruleId);
        put(f, "portcullis.decision", decision);
        put(f, "portcullis.route", route);
        put(f, "http.request.id", requestId);
        put(f, "http.request.method", httpMethod);
        put(f, "http.response.status_code", status);
        put(f, "portcullis.upstream.status_code", upstreamStatus);
        put(f, "client.address", clientAddress);
        put(f, "user_agent.original", userAgent);
        put(f, "user.id", subject);
        put(f, "portcullis.token.issuer", issuer);
        put(f, "portcullis.agent", agent == null || agent.isEmpty() ? null : agent);
        put(f, "portcullis.actor", actor == null || actor.isEmpty() ? null : actor);
        put(f, "mcp.session.id", sessionId);
        put(f, targetField(method), target);
        put(f, "jsonrpc.request.id", jsonrpcId);
        put(f, "trace.id", traceId);
        put(f, "span.id", spanId);
        put(f, "portcullis.upstream.token.jti", exchangedJti);
        put(f, "portcullis.arguments", arguments);
        put(f, "portcullis.batch", batch);
        return f;
    }

    /** The OpenTelemetry attribute naming the target of {@code method}. */
    static String targetField(String method) {
        if (method == null) {
            return "portcullis.target";
        }
        return switch (method) {
            case "tools/call" -> "gen_ai.tool.name";
            case "prompts/get" -> "gen_ai.prompt.name";
            case "resources/read", "resources/subscribe", "resources/unsubscribe" -> "mcp.resource.uri";
            default -> "portcullis.target";
        };
    }

    private static void put(Map<String, Object> f, String key, Object value) {
        if (value != null) {
            f.put(key, value);
        }
    }
}
