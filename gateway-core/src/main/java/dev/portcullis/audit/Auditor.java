package dev.portcullis.audit;

import dev.portcullis.Caches;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.nimbusds.jwt.JWTParser;
import dev.portcullis.authn.Principal;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.forward.ForwardResult;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.Decision;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Stage 8 (on the side): one audit event per decided message, and the request metrics. Called
 * once per request when its response is complete or has failed; never blocks (the audit logger's
 * appender is asynchronous).
 */
public final class Auditor {
    private final AuditLog log;
    private final RequestMetrics metrics;
    private final ArgumentLogging arguments;
    private final Cache<String, Optional<String>> upstreamJtis = Caches.onCallingThread()
            .maximumSize(10_000).expireAfterAccess(Duration.ofMinutes(10)).build();

    public Auditor(AuditLog log, RequestMetrics metrics, ArgumentLogging arguments) {
        this.log = log;
        this.metrics = metrics;
        this.arguments = arguments;
    }

    /** The request was forwarded and its response relayed. */
    public void forwarded(RequestProgress progress, ForwardResult result) {
        metrics.upstreamResponse(progress.routed.route().name(), Duration.ofNanos(result.headersNanos() - result.sentNanos()));
        record(progress, result.status(), result.status(), null);
    }

    /** The request was refused or failed with {@code failure}, answered with {@code status}. */
    public void failed(RequestProgress progress, GatewayFailure failure, int status) {
        if (failure.code() != null && progress.authenticated == null) {
            metrics.tokenFailure(failure.code());
        }
        record(progress, status, null, failure);
    }

    /** The time spent in the gateway before the upstream was called (authn, inspect, authz, exchange). */
    public void overhead(RequestProgress progress) {
        metrics.overhead(progress.routed.route().name(), Duration.ofNanos(progress.elapsedNanos()));
    }

    private void record(RequestProgress p, int status, Integer upstreamStatus, GatewayFailure failure) {
        var request = p.routed.head();
        String route = p.routed.route().name();
        Principal principal = p.authenticated == null ? null : p.authenticated.principal();
        String session = request.headers().get("Mcp-Session-Id");
        String sessionHash = session == null ? null : "sha256:" + dev.portcullis.Sha256.hex(session).substring(0, 16);
        String jti = p.upstream == null ? null : p.upstream.upstreamBearer().map(this::jtiOf).orElse(null);
        long duration = p.elapsedNanos();
        String httpMethod = request.method().name();
        Context context = new Context(p, route, principal, sessionHash, httpMethod, status, upstreamStatus, duration, jti,
                request.clientAddress(), userAgent(request.header("User-Agent")),
                p.trace.traceId() != null ? p.trace.traceId() : callerTraceId(request.header("traceparent")), p.trace.spanId());

        List<McpMessage> messages = p.inspected == null ? List.of() : p.inspected.messages();
        if (messages.isEmpty()) {
            Outcome outcome = outcome(failure, null);
            metrics.request(route, httpMethod, null, null, outcome.decision, status);
            log.record(context.event(null, null, null, outcome, null, null));
            return;
        }
        if (p.inspected.batch()) {
            recordBatch(p, messages, failure, route, httpMethod, status, context);
            return;
        }
        for (int i = 0; i < messages.size(); i++) {
            McpMessage message = messages.get(i);
            Decision decision = p.authorized == null ? null : p.authorized.decisions().get(i);
            Outcome outcome = outcome(failure, decision);
            String method = message.method() == null ? "response" : message.method();
            String target = message.target().orElse(null);
            metrics.request(route, httpMethod, method, policyNamed(method, target, outcome), outcome.decision, status);
            JsonNode args = message.params() == null ? null : message.params().get("arguments");
            log.record(context.event(method, target, message.id(), outcome, arguments.render(args), null));
        }
    }

    /** What every event of one request shares. */
    private record Context(RequestProgress p, String route, Principal principal, String sessionHash, String httpMethod,
                           int status, Integer upstreamStatus, long durationNanos, String jti, String clientAddress,
                           String userAgent, String traceId, String spanId) {
        AuditEvent event(String method, String target, JsonNode id, Outcome outcome, Object arguments,
                         java.util.Map<String, Object> batch) {
            return new AuditEvent(p.arrived, p.routed.requestId(), route, principal == null ? null : principal.subject(),
                    principal == null ? null : principal.issuer(), principal == null ? null : principal.agent(),
                    principal == null ? null : principal.actor(), sessionHash, httpMethod, method, target,
                    id == null || id.isNull() ? null : id.asText(), outcome.decision, outcome.rule, outcome.reason, status,
                    upstreamStatus, durationNanos, jti, clientAddress, userAgent, traceId, spanId, arguments, batch,
                    principal == null ? null : principal.userName());
        }
    }

    /**
     * The tool as a metric label: only a tool the route's policy names in a rule (the decision's rule is
     * {@code tools.<name>}), so callers cannot create label values; any other is {@code other}.
     */
    static String policyNamed(String method, String target, Outcome outcome) {
        return "tools/call".equals(method) && target != null && outcome.rule != null
                && outcome.rule.equals("tools." + target) ? target : null;
    }

    /** At most 256 characters of a client-chosen header: bounded audit lines. */
    static String userAgent(String value) {
        return value == null || value.length() <= 256 ? value : value.substring(0, 256);
    }

    /** The trace id of a well-formed W3C {@code traceparent} (version 00), or null. */
    static String callerTraceId(String traceparent) {
        if (traceparent == null || traceparent.length() < 55 || traceparent.charAt(2) != '-' || traceparent.charAt(35) != '-') {
            return null;
        }
        String id = traceparent.substring(3, 35);
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return null;
            }
        }
        return id.equals("00000000000000000000000000000000") ? null : id;
    }

    /**
     * A batch is one audit event, whatever its size (issue 12 item 10): counts per decision and per refusing
     * rule, and a sample of its elements, refusals first ({@link BatchAudit}). Metrics still count each element.
     */
    private void recordBatch(RequestProgress p, List<McpMessage> messages, GatewayFailure failure, String route,
                             String httpMethod, int status, Context context) {
        List<GatewayFailure> refusedRequests = failure != null && failure.reason() == dev.portcullis.failure.Reason.BATCH_DENIED
                ? failure.elements() : List.of();
        int request = 0;
        List<BatchAudit.Element> elements = new java.util.ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            McpMessage message = messages.get(i);
            Decision decision = p.authorized == null ? null : p.authorized.decisions().get(i);
            Outcome outcome = outcome(failure, decision);
            if (!refusedRequests.isEmpty() && message.kind() == McpMessage.Kind.REQUEST && request < refusedRequests.size()) {
                // A batch refused whole: each request's own refusal says what policy decided for it.
                GatewayFailure own = refusedRequests.get(request++);
                outcome = own.decision() != null ? outcome(own, null)
                        : new Outcome("deny", "batch_denied", "another message of the batch was refused");
            }
            String method = message.method() == null ? "response" : message.method();
            String target = message.target().orElse(null);
            metrics.request(route, httpMethod, method, policyNamed(method, target, outcome), outcome.decision, status);
            JsonNode args = message.params() == null ? null : message.params().get("arguments");
            elements.add(new BatchAudit.Element(i, method, target, outcome.decision, outcome.rule, args));
        }
        BatchAudit.Summary summary = BatchAudit.summarise(elements, arguments);
        log.record(context.event("batch", null, null, new Outcome(summary.decision(), summary.rule(), summary.reason()),
                null, summary.batch()));
    }

    private record Outcome(String decision, String rule, String reason) {}

    private static Outcome outcome(GatewayFailure failure, Decision decision) {
        if (failure != null && failure.decision() != null && switch (failure.reason()) {
            case APPROVAL_INPUT_REQUIRED, APPROVAL_URL_REQUIRED, APPROVAL_REQUIRED -> true;
            default -> false;
        }) {
            // Issue 17: held for approval, neither allowed nor denied (the approval events say the rest).
            return new Outcome("approval_required", failure.decision().ruleId(), failure.decision().reason());
        }
        if (failure != null && failure.decision() != null) {
            Decision d = failure.decision();
            return new Outcome(d.outcome().name().toLowerCase(Locale.ROOT), d.ruleId(), d.reason());
        }
        if (failure != null) {
            String kind = switch (failure.reason()) {
                case NO_CREDENTIALS, INVALID_CREDENTIALS_REQUEST, INVALID_TOKEN, INVALID_DPOP_PROOF, INVALID_DPOP_TOKEN,
                        DPOP_NONCE_REQUIRED -> "unauthenticated";
                case SESSION_NOT_FOUND -> "deny";
                case CLIENT_CLOSED_REQUEST -> "aborted";
                case BATCH_DENIED -> "deny";
                case PARSE_ERROR, INVALID_JSONRPC, BODY_TOO_LARGE, REQUEST_TIMEOUT, UNSUPPORTED_MEDIA_TYPE, METHOD_NOT_ALLOWED, NO_ROUTE,
                        MISDIRECTED_HOST, ORIGIN_NOT_ALLOWED, HEADER_MISMATCH, UNSUPPORTED_VERSION, INVALID_PARAMS, INVALID_TARGET, ERA_NOT_SERVED,
                        MODERN_METHOD_NOT_FOUND -> "invalid";
                default -> decision != null ? decision.outcome().name().toLowerCase(Locale.ROOT) : "error";
            };
            String rule = failure.reason().name().toLowerCase(Locale.ROOT)
                    + (failure.code() == null ? "" : ":" + failure.code());
            return new Outcome(kind, rule, failure.description());
        }
        if (decision != null) {
            return new Outcome(decision.outcome().name().toLowerCase(Locale.ROOT), decision.ruleId(), decision.reason());
        }
        return new Outcome("allow", "authenticated", "no message to decide");
    }

    /**
     * The {@code jti} of the token sent upstream, parsed once per token: the same exchanged token serves
     * many requests (it is cached), and parsing it - or failing to, for an opaque token - on each one cost
     * more than the rest of the audit record.
     */
    private String jtiOf(String token) {
        return upstreamJtis.get(token, Auditor::parseJti).orElse(null);
    }

    private static Optional<String> parseJti(String token) {
        if (token.chars().filter(c -> c == '.').count() != 2) {
            return Optional.empty(); // opaque, or not a signed JWT: no jti to record
        }
        try {
            return Optional.ofNullable(JWTParser.parse(token).getJWTClaimsSet().getJWTID());
        } catch (java.text.ParseException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
