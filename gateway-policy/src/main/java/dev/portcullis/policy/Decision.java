package dev.portcullis.policy;

import java.util.Objects;
import java.util.Set;

/**
 * The outcome of deciding one MCP message: a value, never an action. The same input always
 * gives the same decision.
 *
 * <p>How the gateway answers each outcome (JSONRPC-08):
 * <ul>
 *   <li>{@link Outcome#ALLOW}: forward. {@link #requiredScopes()} are the scopes the deciding rule
 *       required (possibly none); the exchange stage narrows the upstream token to them.</li>
 *   <li>{@link Outcome#STEP_UP}: HTTP 403 {@code insufficient_scope} (CHALLENGE-04).
 *       {@link #requiredScopes()} are exactly the <em>missing</em> scopes, all of them at once
 *       (V26-38); the gateway adds the granted scopes that still matter (CHALLENGE-05).</li>
 *   <li>{@link Outcome#DENY} with {@link #hidden()} true: the caller may not even know the item
 *       exists; answer as the upstream would for an unknown item ({@code -32602 "Unknown tool: <name>"}
 *       for {@code tools/call}, {@code -32601} for a method: JSONRPC-08b, POLICY-04).</li>
 *   <li>{@link Outcome#DENY} with {@link #hidden()} false: the item is listed for this caller but
 *       this particular call is refused (today: only by an argument constraint); answer
 *       {@code "Denied by gateway policy"} with the configurable application code and {@code data.rule}.</li>
 * </ul>
 *
 * @param outcome        allow, deny, or step-up (the caller could be allowed with more scopes)
 * @param ruleId         the id of the rule that decided, e.g. {@code tools.delete_todo}, {@code tools."export_*"},
 *                       {@code default} (for audit and {@code explain}); never shown to callers
 * @param reason         a human-readable reason for operators; callers see a generic message. Never
 *                       contains argument values; names from the request are quoted and escaped
 * @param requiredScopes ALLOW: the scopes the deciding rule required; STEP_UP: the missing scopes
 *                       (never empty); DENY: always empty
 * @param hidden         DENY only: true when the item is hidden from this caller (not in its lists), so the
 *                       denial must look like "unknown"; false when the item is visible and only this
 *                       call is refused. Always false for ALLOW and STEP_UP
 */
public record Decision(Outcome outcome, String ruleId, String reason, Set<String> requiredScopes, boolean hidden) {

    public enum Outcome { ALLOW, DENY, STEP_UP }

    public Decision {
        Objects.requireNonNull(outcome, "outcome");
        Objects.requireNonNull(ruleId, "ruleId");
        Objects.requireNonNull(reason, "reason");
        requiredScopes = Set.copyOf(requiredScopes);
        if (outcome == Outcome.STEP_UP && requiredScopes.isEmpty()) {
            throw new IllegalArgumentException("a step-up decision names the scopes it requires");
        }
        if (outcome == Outcome.DENY && !requiredScopes.isEmpty()) {
            throw new IllegalArgumentException("a denial requires no scopes (no scope would change it)");
        }
        if (hidden && outcome != Outcome.DENY) {
            throw new IllegalArgumentException("only a denial can hide an item");
        }
    }

    public static Decision allow(String ruleId, String reason) {
        return new Decision(Outcome.ALLOW, ruleId, reason, Set.of(), false);
    }

    /** An allow by a rule that required {@code scopes}; the upstream token can be narrowed to them. */
    public static Decision allow(String ruleId, String reason, Set<String> scopes) {
        return new Decision(Outcome.ALLOW, ruleId, reason, scopes, false);
    }

    /** A denial that hides the item: the caller is told it does not exist. The safe default. */
    public static Decision deny(String ruleId, String reason) {
        return new Decision(Outcome.DENY, ruleId, reason, Set.of(), true);
    }

    /** A denial of one call to an item the caller can see (e.g. an argument outside its limits). */
    public static Decision denyVisible(String ruleId, String reason) {
        return new Decision(Outcome.DENY, ruleId, reason, Set.of(), false);
    }

    public static Decision stepUp(String ruleId, String reason, Set<String> missingScopes) {
        return new Decision(Outcome.STEP_UP, ruleId, reason, missingScopes, false);
    }

    public boolean allowed() {
        return outcome == Outcome.ALLOW;
    }

    /**
     * Whether the item this decision is about may appear in the caller's lists: allowed, or
     * denied only for this call's arguments. A step-up is not visible: the caller cannot use the
     * item with its current token.
     */
    public boolean visible() {
        return outcome == Outcome.ALLOW || (outcome == Outcome.DENY && !hidden);
    }
}
