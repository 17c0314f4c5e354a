package dev.portcullis.audit;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One decision on one MCP message (or on a request refused before its messages were read).
 * Never holds a token, secret, cookie or authorization code: the session id and the exchanged
 * token are represented by a SHA-256 prefix and the token's {@code jti}.
 *
 * @param timestamp      when the request arrived (UTC)
 * @param requestId      the gateway's id for the HTTP request
 * @param route          route name, or "-" when none matched
 * @param subject        {@code sub} of the caller, or null before authentication
 * @param issuer         {@code iss} of the caller's token
 * @param agent          the client acting for the subject
 * @param actor          the token's top-level {@code act} claim (IdP-issued delegation chain)
 * @param sessionId      SHA-256 prefix of {@code Mcp-Session-Id}, if any
 * @param method         JSON-RPC method, or the HTTP method for GET/DELETE
 * @param target         tool name, resource URI or prompt name
 * @param decision       allow, deny, step_up, unauthenticated, invalid, error
 * @param ruleId         the policy rule (or the failure reason) that decided
 * @param reason         human-readable reason
 * @param status         the HTTP status the client received
 * @param upstreamStatus the upstream's HTTP status, or null when the upstream was not called
 * @param latencyMillis  time from request arrival to the end of the response
 * @param exchangedJti   {@code jti} of the token sent upstream, if any
 * @param traceparent    W3C trace context of the request, if any
 * @param arguments      per the configured {@link ArgumentLogging}, or null
 * @param batch          for a batch (one event per batch): its size, counts per decision and per refusing rule,
 *                       and a sample of its elements, refusals first ({@link BatchAudit}); null otherwise
 */
public record AuditEvent(Instant timestamp, String requestId, String route, String subject, String issuer, String agent,
                         Map<String, Object> actor, String sessionId, String method, String target, String decision,
                         String ruleId, String reason, int status, Integer upstreamStatus, long latencyMillis,
                         String exchangedJti, String traceparent, Object arguments, Map<String, Object> batch) {

    /** The event as ordered fields, nulls left out; what the JSON encoder writes. */
    public Map<String, Object> fields() {
        Map<String, Object> f = new LinkedHashMap<>();
        put(f, "timestamp", timestamp.toString());
        put(f, "request_id", requestId);
        put(f, "route", route);
        put(f, "subject", subject);
        put(f, "issuer", issuer);
        put(f, "agent", agent == null || agent.isEmpty() ? null : agent);
        put(f, "actor", actor == null || actor.isEmpty() ? null : actor);
        put(f, "session", sessionId);
        put(f, "method", method);
        put(f, "target", target);
        put(f, "decision", decision);
        put(f, "rule", ruleId);
        put(f, "reason", reason);
        put(f, "status", status);
        put(f, "upstream_status", upstreamStatus);
        put(f, "latency_ms", latencyMillis);
        put(f, "exchanged_jti", exchangedJti);
        put(f, "traceparent", traceparent);
        put(f, "arguments", arguments);
        put(f, "batch", batch);
        return f;
    }

    private static void put(Map<String, Object> f, String key, Object value) {
        if (value != null) {
            f.put(key, value);
        }
    }
}
