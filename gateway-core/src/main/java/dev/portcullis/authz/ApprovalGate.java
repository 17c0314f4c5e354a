package dev.portcullis.authz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.Step;
import dev.portcullis.approval.ApprovalAudit;
import dev.portcullis.approval.ApprovalBinding;
import dev.portcullis.approval.ApprovalRequest;
import dev.portcullis.approval.ApprovalStore;
import dev.portcullis.audit.ArgumentLogging;
import dev.portcullis.authn.Principal;
import dev.portcullis.authn.SessionBinding;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.ApprovalRule;
import dev.portcullis.policy.Decision;
import dev.portcullis.revision.Stateless2026;
import dev.portcullis.store.StoreUnavailableException;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Issue 17: the approval gate, after policy allowed a call and the limits counted it. A {@code tools/call} whose
 * deciding rule has an {@code approval} that applies to its arguments is held: the upstream is never contacted
 * until enough approvers have approved exactly this call (subject, agent, tool, canonical argument digest,
 * policy version: {@link ApprovalBinding}). Every call is decided from scratch; an approval is looked up by what
 * the call is, never by anything the client sends.
 *
 * <p>How a held call is answered (per revision):
 * <ul>
 *   <li>2026-07-28: an {@code input_required} result whose input request is a URL-mode elicitation of the approval
 *       page, and a {@code requestState} sealed with the session key and bound to the principal, route, call and
 *       expiry; the client's retry carries it back and the gateway checks it (V26-31: another principal's state is
 *       refused with 400 / -32602) and removes it (with the client's {@code inputResponses}) before forwarding;</li>
 *   <li>2025-11-25: JSON-RPC error {@code -32042} (URL elicitation required) with the URL;</li>
 *   <li>older: JSON-RPC error {@code -31428} whose message carries the URL.</li>
 * </ul>
 * A denied request is answered {@code -31403 "Denied by gateway policy"} once; the next identical call asks again.
 * Calls in a 2025-03-26 batch cannot be held (a batch cannot carry an elicitation): such an element is refused
 * with the approval error and the rest of the batch is handled as for any refused element.
 */
public final class ApprovalGate {
    /** The prefix of a {@code requestState} this gateway sealed; any other is the upstream's and passes through. */
    public static final String STATE_PREFIX = "pcap1.";
    static final String STATE_TYPE = "approval-state";
    /** The key of the one input request in an {@code input_required} result. */
    public static final String INPUT_KEY = "approval";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ApprovalStore store;
    private final ApprovalAudit audit;
    private final SessionBinding seal;
    private final ArgumentLogging masking;
    private final String publicUrl;
    private final Clock clock;
    private final SecureRandom random = ApprovalBinding.nonBlockingRandom();

    /**
     * @param publicUrl where approvers reach the approval page ({@code approvals.public-url}), without a trailing slash
     * @param masking   the audit's argument redaction, which the page applies too (with each rule's {@code mask})
     */
    public ApprovalGate(ApprovalStore store, ApprovalAudit audit, SessionBinding seal, ArgumentLogging masking,
                        String publicUrl, Clock clock) {
        this.store = store;
        this.audit = audit;
        this.seal = seal;
        this.masking = masking;
        this.publicUrl = publicUrl.endsWith("/") ? publicUrl.substring(0, publicUrl.length() - 1) : publicUrl;
        this.clock = clock;
    }

    /**
     * A gate for a gateway without an approval page ({@code approvals} not configured): a call that needs approval
     * is refused (it could never be approved), never let through. A policy reload can add {@code approval} to a rule
     * at any time, so the gate is always in place.
     */
    public static ApprovalGate withoutPage() {
        return new ApprovalGate(null, new ApprovalAudit(), null, null, "", Clock.systemUTC());
    }

    /** The approval page of request {@code id}. */
    public String pageUrl(String id) {
        return publicUrl + "/approvals/" + id;
    }

    /**
     * The request, as it may go on, now or once the store answered; or a {@link GatewayFailure} (thrown, or the
     * future's) holding it.
     */
    public Step<AuthorizedRequest> apply(AuthorizedRequest authorized) {
        var policy = authorized.route().policy();
        if (authorized.batch()) {
            return Step.now(batch(authorized, policy.approvals()));
        }
        if (authorized.messages().size() != 1) {
            return Step.now(authorized);
        }
        McpMessage message = authorized.messages().get(0);
        if (!"tools/call".equals(message.method()) || authorized.decisions().isEmpty()) {
            return Step.now(authorized);
        }
        Decision decision = authorized.decisions().get(0);
        Principal principal = authorized.principal();
        // 2026-07-28: a retry may carry the state this gateway sealed; it is checked and never forwarded.
        Optional<JsonNode> state = seal == null ? Optional.empty() : ourState(authorized, message);
        AuthorizedRequest forwarded = state.isPresent() ? stripped(authorized) : authorized;
        if (!decision.allowed()) {
            return Step.now(forwarded);
        }
        Optional<ApprovalRule> rule = policy.approvals().of(decision.ruleId());
        JsonNode arguments = message.params() == null ? null : message.params().get("arguments");
        if (rule.isEmpty() || !rule.get().applies(arguments)) {
            return Step.now(forwarded);
        }
        if (store == null) {
            throw GatewayFailure.of(Reason.POLICY_DENIED, "Denied by gateway policy", "rule " + decision.ruleId()
                    + " requires approval, and this gateway has no approvals section (no approval page)")
                    .withJsonRpcId(message.id())
                    .withDecision(Decision.denyVisible(decision.ruleId(), "needs approval; no approval page configured"));
        }
        String tool = message.target().orElse("");
        String digest = ApprovalBinding.argumentsDigest(arguments);
        String binding = ApprovalBinding.of(principal, authorized.route().name(), tool, digest, policy.version());
        if (state.isPresent() && !binding.equals(state.get().path("b").asText())) {
            throw invalidState(message, "requestState was issued for another call");
        }
        if (state.isPresent()) {
            String action = message.params().path("inputResponses").path(INPUT_KEY).path("action").asText("");
            if (action.equals("decline") || action.equals("cancel")) {
                // The client's user would not go to the approval page: the call ends here (asking again would loop).
                throw GatewayFailure.of(Reason.POLICY_DENIED, "Denied by gateway policy", "the approval request was "
                        + action + "d by the caller's user").withJsonRpcId(message.id())
                        .withDecision(Decision.denyVisible(decision.ruleId(), "approval " + action + "d by the caller's user"));
            }
        }
        CompletableFuture<AuthorizedRequest> decided = store.use(binding).thenCompose(used -> {
            if (used.isPresent()) {
                audit.record(ApprovalAudit.Action.USED, used.get(), null, "call " + message.id() + " let through", null);
                return CompletableFuture.completedFuture(forwarded);
            }
            return store.open(binding).thenCompose(open -> held(authorized, message, decision, rule.get(), principal, tool,
                    arguments, digest, binding, open));
        }).handle((value, error) -> {
            if (error == null) {
                return value;
            }
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            if (cause instanceof GatewayFailure failure) {
                throw failure;
            }
            if (cause instanceof StoreUnavailableException) {
                throw GatewayFailure.of(Reason.APPROVALS_UNAVAILABLE, "Approvals are unavailable, try again later",
                        "approval store: " + cause.getMessage()).withJsonRpcId(message.id());
            }
            throw new CompletionException(cause);
        });
        return decided.isDone() && !decided.isCompletedExceptionally() ? Step.now(decided.join()) : Step.later(decided);
    }

    /** The call has no usable approval: answer with the open request, or a new one; a denial is answered once. */
    private CompletableFuture<AuthorizedRequest> held(AuthorizedRequest authorized, McpMessage message, Decision decision,
                                                      ApprovalRule rule, Principal principal, String tool, JsonNode arguments,
                                                      String digest, String binding, Optional<ApprovalRequest> open) {
        long now = clock.millis();
        if (open.isPresent()) {
            ApprovalRequest request = open.get();
            switch (request.status()) {
                case PENDING -> {
                    if (!request.expired(now)) {
                        return CompletableFuture.failedFuture(hold(authorized, message, decision, request));
                    }
                    return expire(request).thenCompose(x -> create(authorized, message, decision, rule, principal, tool,
                            arguments, digest, binding, now));
                }
                case DENIED -> {
                    return store.close(binding, request.id()).thenCompose(x -> CompletableFuture.failedFuture(
                            GatewayFailure.of(Reason.POLICY_DENIED, "Denied by gateway policy", "approval "
                                    + request.id() + " was denied").withJsonRpcId(message.id())
                                    .withDecision(Decision.denyVisible(decision.ruleId(), "the approval of this call was denied"))));
                }
                case APPROVED -> {
                    if (request.expired(now)) {
                        return expire(request).thenCompose(x -> create(authorized, message, decision, rule, principal, tool,
                                arguments, digest, binding, now));
                    }
                    // Approved, yet not usable: a concurrent call used it. This call needs its own approval.
                    return store.close(binding, request.id()).thenCompose(x -> create(authorized, message, decision, rule,
                            principal, tool, arguments, digest, binding, now));
                }
                default -> {
                    return store.close(binding, request.id()).thenCompose(x -> create(authorized, message, decision, rule,
                            principal, tool, arguments, digest, binding, now));
                }
            }
        }
        return create(authorized, message, decision, rule, principal, tool, arguments, digest, binding, now);
    }

    /** Marks {@code request} expired (audited once, by whichever replica marks it) and closes it. */
    private CompletableFuture<Void> expire(ApprovalRequest request) {
        return store.update(request.id(), current -> current.status() == ApprovalRequest.Status.PENDING
                        || current.status() == ApprovalRequest.Status.APPROVED
                        ? new ApprovalRequest.Change(ApprovalRequest.Outcome.EXPIRED,
                        new ApprovalRequest(current.id(), current.binding(), current.route(), current.tool(), current.ruleId(),
                                current.requester(), current.arguments(), current.argumentsDigest(), current.roles(),
                                current.groups(), current.rolesClaim(), current.count(), current.selfApproval(),
                                current.singleUse(), current.createdAt(), current.expiresAt(),
                                ApprovalRequest.Status.EXPIRED, current.decisions()))
                        : new ApprovalRequest.Change(ApprovalRequest.Outcome.NOT_PENDING, current))
                .thenCompose(change -> {
                    if (change.outcome() == ApprovalRequest.Outcome.EXPIRED && change.after() != null) {
                        audit.record(ApprovalAudit.Action.EXPIRED, change.after(), null, "expired before it was used", null);
                    }
                    return store.close(request.binding(), request.id());
                });
    }

    private CompletableFuture<AuthorizedRequest> create(AuthorizedRequest authorized, McpMessage message, Decision decision,
                                                        ApprovalRule rule, Principal principal, String tool,
                                                        JsonNode arguments, String digest, String binding, long now) {
        ApprovalRequest.Party requester = new ApprovalRequest.Party(principal.issuer(), principal.subject(),
                principal.agent(), principal.userName());
        ApprovalRequest request = ApprovalRequest.pending(newId(), binding, authorized.route().name(), tool, rule, requester,
                masking.masked(arguments, rule.mask()), digest, now);
        return store.create(request).thenCompose(open -> {
            if (open.id().equals(request.id())) {
                audit.record(ApprovalAudit.Action.REQUESTED, open, null, "held for approval: " + rule.describe(), null);
            }
            return CompletableFuture.failedFuture(hold(authorized, message, decision, open));
        });
    }

    /** The answer that holds the call, in the form its revision understands. */
    GatewayFailure hold(AuthorizedRequest authorized, McpMessage message, Decision decision, ApprovalRequest request) {
        String url = pageUrl(request.id());
        String text = "Approval required: tool " + request.tool() + " is held until an approver allows this call at " + url;
        Decision held = Decision.denyVisible(decision.ruleId(), "held for approval " + request.id());
        String detail = "held for approval " + request.id() + " (rule " + decision.ruleId() + ")";
        if (authorized.revision() instanceof Stateless2026) {
            Map<String, Object> claims = new LinkedHashMap<>();
            claims.put("p", SessionBinding.principalFingerprint(authorized.principal()));
            claims.put("r", authorized.route().name());
            claims.put("b", request.binding());
            claims.put("i", request.id());
            claims.put("x", request.expiresAt() / 1000);
            String state = STATE_PREFIX + seal.sealClaims(STATE_TYPE, claims);
            Map<String, Object> params = new LinkedHashMap<>();
            params.put("mode", "url");
            params.put("message", text);
            params.put("url", url);
            params.put("elicitationId", request.id());
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("resultType", "input_required");
            result.put("inputRequests", Map.of(INPUT_KEY, Map.of("method", "elicitation/create", "params", params)));
            result.put("requestState", state);
            return GatewayFailure.of(Reason.APPROVAL_INPUT_REQUIRED, "Approval required", detail)
                    .withJsonRpcId(message.id()).withDecision(held).withData(result);
        }
        String version = authorized.revision().protocolVersion(authorized.head().headers());
        if ("2025-11-25".equals(version)) {
            Map<String, Object> elicitation = new LinkedHashMap<>();
            elicitation.put("mode", "url");
            elicitation.put("elicitationId", request.id());
            elicitation.put("url", url);
            elicitation.put("message", text);
            return GatewayFailure.of(Reason.APPROVAL_URL_REQUIRED, "This call requires approval: open the URL, then retry",
                    detail).withJsonRpcId(message.id()).withDecision(held)
                    .withData(Map.of("elicitations", List.of(elicitation)));
        }
        return GatewayFailure.of(Reason.APPROVAL_REQUIRED, text + " , then retry the same call", detail)
                .withJsonRpcId(message.id()).withDecision(held)
                .withData(Map.of("approvalUrl", url, "rule", decision.ruleId()));
    }

    /**
     * The gateway's own {@code requestState} on a 2026-07-28 {@code tools/call}, checked: sealed by this gateway
     * (any replica with the key) for this principal on this route, and not expired. Empty when the request carries
     * none or the upstream's.
     *
     * @throws GatewayFailure 400 / -32602 for a state of ours that fails a check (V26-31)
     */
    private Optional<JsonNode> ourState(AuthorizedRequest authorized, McpMessage message) {
        if (!(authorized.revision() instanceof Stateless2026) || message.params() == null) {
            return Optional.empty();
        }
        JsonNode state = message.params().get("requestState");
        if (state == null || !state.isTextual() || !state.textValue().startsWith(STATE_PREFIX)) {
            return Optional.empty();
        }
        Optional<JsonNode> claims = seal.openClaims(STATE_TYPE, state.textValue().substring(STATE_PREFIX.length()));
        if (claims.isEmpty()) {
            throw invalidState(message, "requestState was not sealed by this gateway");
        }
        JsonNode c = claims.get();
        if (!SessionBinding.principalFingerprint(authorized.principal()).equals(c.path("p").asText())
                || !authorized.route().name().equals(c.path("r").asText())) {
            throw invalidState(message, "requestState belongs to another principal or route");
        }
        if (c.path("x").asLong(0) * 1000 <= clock.millis()) {
            throw invalidState(message, "requestState expired");
        }
        return claims;
    }

    private static GatewayFailure invalidState(McpMessage message, String detail) {
        return GatewayFailure.of(Reason.INVALID_PARAMS, "Invalid requestState", detail).withJsonRpcId(message.id());
    }

    /** The request without the gateway's {@code requestState} and the client's {@code inputResponses} to it. */
    private static AuthorizedRequest stripped(AuthorizedRequest authorized) {
        try {
            JsonNode body = JSON.readTree(authorized.upstreamBody());
            if (body instanceof ObjectNode object && object.get("params") instanceof ObjectNode params) {
                params.remove("requestState");
                params.remove("inputResponses");
                return authorized.withUpstreamBody(JSON.writeValueAsBytes(object));
            }
            return authorized;
        } catch (java.io.IOException e) {
            throw new IllegalStateException("an inspected body could not be read again", e);
        }
    }

    /**
     * A 2025-03-26 batch: an element that would be held is refused with the approval error (a batch cannot carry
     * an elicitation); the rest goes on as for any refused element (POLICY-07).
     */
    AuthorizedRequest batch(AuthorizedRequest authorized, dev.portcullis.policy.Approvals approvals) {
        if (approvals.isEmpty()) {
            return authorized;
        }
        Map<Integer, GatewayFailure> refused = new java.util.HashMap<>();
        for (int i = 0; i < authorized.messages().size(); i++) {
            McpMessage message = authorized.messages().get(i);
            Decision decision = authorized.decisions().get(i);
            if (!"tools/call".equals(message.method()) || !decision.allowed()) {
                continue;
            }
            JsonNode arguments = message.params() == null ? null : message.params().get("arguments");
            Optional<ApprovalRule> rule = approvals.of(decision.ruleId());
            if (rule.isPresent() && rule.get().applies(arguments)) {
                refused.put(i, GatewayFailure.of(Reason.POLICY_DENIED, "Denied by gateway policy",
                        "a call that needs approval cannot be sent in a batch").withJsonRpcId(message.id())
                        .withDecision(Decision.denyVisible(decision.ruleId(), "needs approval; not possible in a batch")));
            }
        }
        return Authorize.limited(authorized, refused);
    }

    private String newId() {
        byte[] bytes = new byte[16];
        random.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
