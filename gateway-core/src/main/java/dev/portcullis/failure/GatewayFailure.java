package dev.portcullis.failure;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.policy.Decision;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * The one failure type of the request path. Stages signal it and never build responses;
 * {@link FailureResponses} renders it.
 *
 * <p>{@code description} may reach the client (in {@code error_description} or a JSON-RPC
 * message), so it must be generic and never echo input. {@code detail} is for the operator's log
 * only, and must never contain a token or secret.
 */
public final class GatewayFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final Reason reason;
    private final String description;
    private final transient JsonNode jsonRpcId;
    private final Set<String> scopes;
    private final String code;
    private final transient Decision decision;
    private final transient List<GatewayFailure> elements;
    private final transient java.util.Map<String, Object> data;

    private GatewayFailure(Reason reason, String description, String detail, JsonNode jsonRpcId,
                           Set<String> scopes, Throwable cause, String code, Decision decision) {
        this(reason, description, detail, jsonRpcId, scopes, cause, code, decision, List.of());
    }

    private GatewayFailure(Reason reason, String description, String detail, JsonNode jsonRpcId,
                           Set<String> scopes, Throwable cause, String code, Decision decision,
                           List<GatewayFailure> elements) {
        this(reason, description, detail, jsonRpcId, scopes, cause, code, decision, elements, java.util.Map.of());
    }

    private GatewayFailure(Reason reason, String description, String detail, JsonNode jsonRpcId,
                           Set<String> scopes, Throwable cause, String code, Decision decision,
                           List<GatewayFailure> elements, java.util.Map<String, Object> data) {
        super(detail == null ? description : detail, cause, false, false);
        this.reason = Objects.requireNonNull(reason);
        this.description = Objects.requireNonNull(description);
        this.jsonRpcId = jsonRpcId;
        this.scopes = java.util.Collections.unmodifiableSet(new java.util.LinkedHashSet<>(scopes)); // keeps the caller's order
        this.code = code;
        this.decision = decision;
        this.elements = List.copyOf(elements);
        this.data = java.util.Map.copyOf(data);
    }

    /** The same failure with {@code error.data} for the JSON-RPC error (e.g. the supported versions). */
    public GatewayFailure withData(java.util.Map<String, Object> data) {
        return new GatewayFailure(reason, description, getMessage(), jsonRpcId, scopes, getCause(), code, decision, elements, data);
    }

    /** {@code error.data} of the JSON-RPC error, or empty. */
    public java.util.Map<String, Object> data() {
        return data;
    }

    /**
     * A batch refused as a whole: {@code elements} holds one failure per request element that
     * gets a JSON-RPC error (its own denial, or "refused with its batch"), each with its id.
     */
    public static GatewayFailure batch(String detail, List<GatewayFailure> elements) {
        return new GatewayFailure(Reason.BATCH_DENIED, "Batch refused", detail, null, Set.of(), null, null, null, elements);
    }

    /** For {@link Reason#BATCH_DENIED}: the per-element failures, in request order. */
    public List<GatewayFailure> elements() {
        return elements;
    }

    private GatewayFailure(Reason reason, String description, String detail, JsonNode jsonRpcId,
                           Set<String> scopes, Throwable cause) {
        this(reason, description, detail, jsonRpcId, scopes, cause, null, null);
    }

    public static GatewayFailure of(Reason reason, String description) {
        return new GatewayFailure(reason, description, null, null, Set.of(), null);
    }

    public static GatewayFailure of(Reason reason, String description, String detail) {
        return new GatewayFailure(reason, description, detail, null, Set.of(), null);
    }

    public static GatewayFailure of(Reason reason, String description, String detail, Throwable cause) {
        return new GatewayFailure(reason, description, detail, null, Set.of(), cause);
    }

    /** A 403 step-up: {@code scopes} is the full scope string the client should request (CHALLENGE-05). */
    public static GatewayFailure insufficientScope(String description, Set<String> scopes) {
        return new GatewayFailure(Reason.INSUFFICIENT_SCOPE, description, null, null, scopes, null);
    }

    /** The same failure, tied to the JSON-RPC request it answers (so the client can match it). */
    public GatewayFailure withJsonRpcId(JsonNode id) {
        if (id == null || jsonRpcId != null) {
            return this;
        }
        return new GatewayFailure(reason, description, getMessage(), id, scopes, getCause(), code, decision, elements, data);
    }

    /** The same failure with a short, bounded code (metric tag), e.g. {@code expired} for a token failure. */
    public GatewayFailure withCode(String code) {
        return new GatewayFailure(reason, description, getMessage(), jsonRpcId, scopes, getCause(), code, decision, elements, data);
    }

    /** The same failure, remembering the policy decision that caused it (audit). */
    public GatewayFailure withDecision(Decision decision) {
        return new GatewayFailure(reason, description, getMessage(), jsonRpcId, scopes, getCause(), code, decision, elements, data);
    }

    /** A bounded code refining the reason, or null. */
    public String code() {
        return code;
    }

    /** The policy decision behind a denial or step-up, or null. */
    public Decision decision() {
        return decision;
    }

    public Reason reason() {
        return reason;
    }

    public String description() {
        return description;
    }

    /** The JSON-RPC id as parsed (type and digits preserved: JSONRPC-02), or null. */
    public JsonNode jsonRpcId() {
        return jsonRpcId;
    }

    public Set<String> scopes() {
        return scopes;
    }
}
