package dev.portcullis.authz;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.Decision;
import dev.portcullis.policy.Subject;
import dev.portcullis.revision.McpRevision;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Stage 5: the route's {@link dev.portcullis.policy.Policy} decides every message before anything
 * is forwarded, from the parsed body only (POLICY-01). How a refusal is answered (JSONRPC-08):
 *
 * <ul>
 *   <li>missing scopes the caller could obtain → HTTP 403 {@code insufficient_scope} listing the
 *       granted scopes plus the missing ones (CHALLENGE-04/05), or, on routes with
 *       {@code step-up: error}, the JSON-RPC denial below;</li>
 *   <li>forbidden and the item visible to the caller (e.g. an argument constraint) → HTTP 200, JSON-RPC
 *       error {@code -31403 "Denied by gateway policy"} with {@code data.rule};</li>
 *   <li>forbidden and the item hidden from the caller → answered exactly as if it did not exist:
 *       {@code -32602 "Unknown tool: <name>"} (tools, prompts), {@code -32002} (resources), {@code -32601}
 *       (methods), so nothing leaks;</li>
 *   <li>a refused notification → HTTP 403 and never a JSON-RPC response (JSONRPC-06);</li>
 *   <li>a batch (2025-03-26) with refused elements (POLICY-07): on {@code batches: partial} routes (the
 *       default) the allowed elements are forwarded as a smaller batch, byte for byte, and each refused
 *       request gets its error merged into the answer ({@link PartialBatch}); on {@code batches: reject-whole}
 *       routes, or when nothing is left to forward, it is refused whole, with an error per request element.
 *       Never anything undecided forwarded.</li>
 * </ul>
 * A resource URI not in normal form, and a {@code completion/complete} whose {@code ref} the caller may not
 * see, are refused before anything is forwarded ({@link Targets}: issue 12).
 * A 2026-07-28 {@code subscriptions/listen} filter is narrowed to what the caller may see (V26-22).
 * On a route that pins definitions (issue 17), a call policy allows to a tool or prompt whose definition drifted from
 * its pin, or that no pin names ({@code unpinned: hide}), is refused here too ({@link dev.portcullis.pin.RoutePins#refusal}).
 * Responses posted by the client (answers to server requests) carry no method and are not policy subjects.
 */
public final class Authorize {

    public Authorize() {
        SubscriptionFilter.warm();
    }

    /** Throws the {@link GatewayFailure} that refuses the request, if policy refuses it. */
    public AuthorizedRequest apply(InspectedRequest inspected) {
        var route = inspected.route();
        Subject subject = inspected.principal().asSubject();
        boolean challengeStepUp = route.config().stepUp().equals("challenge");
        List<Decision> decisions = new ArrayList<>(inspected.messages().size());
        List<GatewayFailure> refusals = new ArrayList<>();
        java.util.Map<Integer, GatewayFailure> refusedAt = new java.util.HashMap<>();
        GatewayFailure stepUp = null;
        for (McpMessage message : inspected.messages()) {
            Decision decision = message.kind() == McpMessage.Kind.RESPONSE
                    ? Decision.allow("response", "responses to server requests are not policy subjects")
                    : route.policy().decide(subject, message.operation());
            // Issue 12: a URI not in normal form is refused whatever policy says; a completion follows its ref.
            java.util.Optional<GatewayFailure> target = Targets.refusal(message, subject, route.policy(), route.filtersLists());
            if (target.isEmpty() && decision.allowed() && route.pins() != null) {
                // Issue 17: a call to an item whose definition drifted from its pin (or is unpinned and hidden).
                target = route.pins().refusal(message);
            }
            if (target.isPresent() && (decision.allowed()
                    || dev.portcullis.policy.CompiledPolicy.NOT_NORMAL.equals(target.get().decision().ruleId()))) {
                decisions.add(target.get().decision());
                refusedAt.put(decisions.size() - 1, target.get());
                refusals.add(target.get());
                continue;
            }
            decisions.add(decision);
            if (decision.allowed()) {
                continue;
            }
            GatewayFailure refusal = refusal(message, decision, subject, challengeStepUp, inspected.revision());
            if (refusal.reason() == Reason.INSUFFICIENT_SCOPE && stepUp == null) {
                stepUp = refusal;
            }
            refusedAt.put(decisions.size() - 1, refusal);
            refusals.add(refusal);
        }
        if (refusals.isEmpty()) {
            return narrowed(new AuthorizedRequest(inspected, decisions, inspected.body(), null,
                    ListVisibility.of(route, subject, inspected.requestId())), subject);
        }
        if (stepUp != null) {
            // A token with more scope could make the request pass: challenge, even inside a batch.
            throw stepUp;
        }
        if (!inspected.batch()) {
            throw refusals.get(0);
        }
        if (route.config().partialBatches() && refusedAt.size() < inspected.messages().size()) {
            return new AuthorizedRequest(inspected, decisions, BatchBody.keep(inspected.body(), kept(refusedAt,
                    inspected.messages().size())), new PartialBatch(refusedAt), ListVisibility.of(route, subject, inspected.requestId()));
        }
        throw batchRefusal(inspected, decisions, refusals);
    }

    /**
     * Issue 18: {@code authorized} after the limits refused the elements in {@code limited} (by index; each a
     * {@link Reason#RATE_LIMITED} or {@link Reason#LIMITS_UNAVAILABLE} failure with its JSON-RPC id). A single
     * request is refused (429 or 503); a batch is answered as for policy refusals (POLICY-07): on
     * {@code batches: partial} routes the rest is forwarded and each refused request gets its error in the
     * answer; otherwise, or when nothing is left, the batch is refused whole with an error per request.
     * Each refused element's decision becomes the limit's denial, so its audit names the limit.
     */
    public static AuthorizedRequest limited(AuthorizedRequest authorized, java.util.Map<Integer, GatewayFailure> limited) {
        if (limited.isEmpty()) {
            return authorized;
        }
        InspectedRequest inspected = authorized.inspected();
        if (!inspected.batch()) {
            throw limited.values().iterator().next();
        }
        java.util.Map<Integer, GatewayFailure> refusedAt = new java.util.HashMap<>();
        if (authorized.partialBatch() != null) {
            refusedAt.putAll(authorized.partialBatch().refused());
        }
        refusedAt.putAll(limited);
        List<Decision> decisions = new ArrayList<>(authorized.decisions());
        limited.forEach((index, failure) -> decisions.set(index, failure.decision()));
        var route = inspected.route();
        if (route.config().partialBatches() && refusedAt.size() < inspected.messages().size()) {
            return new AuthorizedRequest(inspected, decisions, BatchBody.keep(inspected.body(), kept(refusedAt,
                    inspected.messages().size())), new PartialBatch(refusedAt), authorized.visibility());
        }
        List<GatewayFailure> elements = new ArrayList<>();
        for (int i = 0; i < inspected.messages().size(); i++) {
            McpMessage message = inspected.messages().get(i);
            if (message.kind() != McpMessage.Kind.REQUEST) {
                continue;
            }
            GatewayFailure own = refusedAt.get(i);
            elements.add(own != null ? own : GatewayFailure.of(Reason.INVALID_JSONRPC,
                    "Batch refused: another message in it was denied").withJsonRpcId(message.id()));
        }
        throw GatewayFailure.batch(refusedAt.size() + " message(s) of the batch refused", elements);
    }

    /** V26-22: a modern {@code subscriptions/listen} on a route with a policy asks only for what the caller may see. */
    private static AuthorizedRequest narrowed(AuthorizedRequest authorized, Subject subject) {
        var route = authorized.route();
        if (!route.filtersLists() || authorized.revision().listenRequest(authorized.messages()).isEmpty()) {
            return authorized;
        }
        return authorized.withUpstreamBody(SubscriptionFilter.narrow(authorized.body(), subject, route.policy()));
    }

    private static GatewayFailure refusal(McpMessage message, Decision decision, Subject subject, boolean challenge,
                                          McpRevision revision) {
        if (message.kind() == McpMessage.Kind.NOTIFICATION) {
            return GatewayFailure.of(Reason.NOTIFICATION_DENIED, "Forbidden",
                    "notification " + message.method() + " refused by " + decision.ruleId()).withDecision(decision);
        }
        if (decision.outcome() == Decision.Outcome.STEP_UP) {
            Set<String> scopes = new TreeSet<>(subject.scopes());
            scopes.addAll(decision.requiredScopes());
            if (challenge) {
                return GatewayFailure.insufficientScope("Additional scope is required", scopes)
                        .withJsonRpcId(message.id()).withDecision(decision);
            }
            return GatewayFailure.of(Reason.POLICY_DENIED, "Denied by gateway policy", "step-up answered as an error: "
                    + decision.reason()).withJsonRpcId(message.id()).withDecision(decision);
        }
        if (decision.hidden()) {
            String name = message.target().orElse(message.method());
            GatewayFailure hidden = switch (message.method()) {
                case "tools/call" -> GatewayFailure.of(Reason.UNKNOWN_TOOL, "Unknown tool: " + name, decision.reason());
                case "prompts/get" -> GatewayFailure.of(Reason.UNKNOWN_TOOL, "Unknown prompt: " + name, decision.reason());
                case "resources/read", "resources/subscribe", "resources/unsubscribe" ->
                        GatewayFailure.of(Reason.RESOURCE_NOT_FOUND, "Resource not found", decision.reason());
                // V26-25: a modern request for a method the route does not know is a 404.
                default -> GatewayFailure.of(revision.methodNotFound(), "Method not found", decision.reason());
            };
            return hidden.withJsonRpcId(message.id()).withDecision(decision);
        }
        return GatewayFailure.of(Reason.POLICY_DENIED, "Denied by gateway policy",
                "rule " + decision.ruleId() + ": " + decision.reason()).withJsonRpcId(message.id()).withDecision(decision);
    }

    private static GatewayFailure batchRefusal(InspectedRequest inspected, List<Decision> decisions,
                                               List<GatewayFailure> refusals) {
        List<GatewayFailure> elements = new ArrayList<>();
        int refused = 0;
        for (int i = 0; i < inspected.messages().size(); i++) {
            McpMessage message = inspected.messages().get(i);
            Decision decision = decisions.get(i);
            if (message.kind() != McpMessage.Kind.REQUEST) {
                if (!decision.allowed()) {
                    refused++;
                }
                continue;
            }
            if (decision.allowed()) {
                elements.add(GatewayFailure.of(Reason.INVALID_JSONRPC, "Batch refused: another message in it was denied")
                        .withJsonRpcId(message.id()));
            } else {
                elements.add(refusals.get(refused++));
            }
        }
        if (elements.isEmpty()) {
            // Only notifications (and responses): no JSON-RPC response may be sent (JSONRPC-06).
            return refusals.get(0);
        }
        return GatewayFailure.batch(refusals.size() + " message(s) of the batch refused", elements);
    }

    /** The batch elements (of {@code size}) not refused: what a partial batch forwards (POLICY-07). */
    private static java.util.Set<Integer> kept(java.util.Map<Integer, ?> refusedAt, int size) {
        java.util.Set<Integer> kept = new java.util.HashSet<>();
        for (int i = 0; i < size; i++) {
            if (!refusedAt.containsKey(i)) {
                kept.add(i);
            }
        }
        return kept;
    }
}
