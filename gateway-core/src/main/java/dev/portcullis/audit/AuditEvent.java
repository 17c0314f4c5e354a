package dev.portcullis.audit;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
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
 * @param userName       the caller's login name from its token ({@code preferred_username}, …), if any
 */
public record AuditEvent(Instant timestamp, String requestId, String route, String subject, String issuer, String agent,
                         Map<String, Object> actor, String sessionId, String httpMethod, String method, String target,
                         String jsonrpcId, String decision, String ruleId, String reason, int status, Integer upstreamStatus,
                         long durationNanos, String exchangedJti, String clientAddress, String userAgent, String traceId,
                         String spanId, Object arguments, Map<String, Object> batch, String userName) {

    private static final JsonMapper MAPPER = JsonMapper.builder().build();
    private static final SerializedString ACTION = name("event.action"), OUTCOME = name("event.outcome"),
            REASON = name("event.reason"), DURATION = name("event.duration"), RULE = name("rule.id"),
            DECISION = name("portcullis.decision"), ROUTE = name("portcullis.route"), REQUEST_ID = name("http.request.id"),
            HTTP_METHOD = name("http.request.method"), STATUS = name("http.response.status_code"),
            UPSTREAM_STATUS = name("portcullis.upstream.status_code"), CLIENT = name("client.address"),
            USER_AGENT = name("user_agent.original"), USER_ID = name("user.id"), USER_NAME = name("user.name"),
            ISSUER = name("portcullis.token.issuer"), AGENT = name("portcullis.agent"), ACTOR = name("portcullis.actor"),
            SESSION = name("mcp.session.id"), TOOL = name("gen_ai.tool.name"), PROMPT = name("gen_ai.prompt.name"),
            RESOURCE = name("mcp.resource.uri"), TARGET = name("portcullis.target"), JSONRPC_ID = name("jsonrpc.request.id"),
            TRACE = name("trace.id"), SPAN = name("span.id"), JTI = name("portcullis.upstream.token.jti"),
            ARGUMENTS = name("portcullis.arguments"), BATCH = name("portcullis.batch");

    /**
     * Writes the event's fields, nulls left out, into the JSON object {@code out} is inside; {@code @timestamp} (from
     * {@link #timestamp}) is the audit encoder's to write first. The one list of the audit trail's field names and
     * their order: the audit writer encodes each event with it, with no map or key-value list in between.
     */
    public void writeFields(JsonGenerator out) throws IOException {
        string(out, ACTION, method != null ? method : httpMethod);
        string(out, OUTCOME, "allow".equals(decision) ? "success" : "failure");
        string(out, REASON, reason);
        out.writeFieldName(DURATION);
        out.writeNumber(durationNanos);
        string(out, RULE, ruleId);
        string(out, DECISION, decision);
        string(out, ROUTE, route);
        string(out, REQUEST_ID, requestId);
        string(out, HTTP_METHOD, httpMethod);
        out.writeFieldName(STATUS);
        out.writeNumber(status);
        if (upstreamStatus != null) {
            out.writeFieldName(UPSTREAM_STATUS);
            out.writeNumber(upstreamStatus.intValue());
        }
        string(out, CLIENT, clientAddress);
        string(out, USER_AGENT, userAgent);
        string(out, USER_ID, subject);
        string(out, USER_NAME, userName);
        string(out, ISSUER, issuer);
        string(out, AGENT, agent == null || agent.isEmpty() ? null : agent);
        object(out, ACTOR, actor == null || actor.isEmpty() ? null : actor);
        string(out, SESSION, sessionId);
        string(out, targetName(method), target);
        string(out, JSONRPC_ID, jsonrpcId);
        string(out, TRACE, traceId);
        string(out, SPAN, spanId);
        string(out, JTI, exchangedJti);
        object(out, ARGUMENTS, arguments);
        object(out, BATCH, batch);
    }

    /** The event as ordered fields, nulls left out, exactly as the audit writer encodes them (for tests and other appenders). */
    public Map<String, Object> fields() {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("@timestamp", timestamp.toString());
        java.io.StringWriter json = new java.io.StringWriter();
        try (JsonGenerator out = MAPPER.createGenerator(json)) {
            out.writeStartObject();
            writeFields(out);
            out.writeEndObject();
            out.flush();
            f.putAll(MAPPER.readValue(json.toString(), new com.fasterxml.jackson.core.type.TypeReference<LinkedHashMap<String, Object>>() {}));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return f;
    }

    private static void string(JsonGenerator out, SerializedString name, String value) throws IOException {
        if (value != null) {
            out.writeFieldName(name);
            out.writeString(value);
        }
    }

    private static void object(JsonGenerator out, SerializedString name, Object value) throws IOException {
        if (value instanceof String text) {
            string(out, name, text);
        } else if (value != null) {
            out.writeFieldName(name);
            out.writeObject(value); // the actor chain, the argument keys, a batch summary: maps, lists, strings, numbers
        }
    }

    private static SerializedString name(String name) {
        return new SerializedString(name);
    }

    /** The OpenTelemetry attribute naming the target of {@code method}. */
    private static SerializedString targetName(String method) {
        if (method == null) {
            return TARGET;
        }
        return switch (method) {
            case "tools/call" -> TOOL;
            case "prompts/get" -> PROMPT;
            case "resources/read", "resources/subscribe", "resources/unsubscribe" -> RESOURCE;
            default -> TARGET;
        };
    }

}
