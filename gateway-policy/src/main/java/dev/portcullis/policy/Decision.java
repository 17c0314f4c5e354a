package dev.portcullis.policy;

import java.util.Objects;
import java.util.Set;

/**
 * The outcome of deciding one MCP message: a value, never an action. The same input always
 * gives the same decision.
 *
 * @param outcome        allow, deny, or step-up (the caller could be allowed with more scopes)
 * @param ruleId         the id of the rule that decided (for audit and {@code explain}); never shown to callers
 * @param reason         a human-readable reason for operators; callers see a generic message
 * @param requiredScopes for {@link Outcome#STEP_UP}: the scopes that would make the call allowed
 */
public record Decision(Outcome outcome, String ruleId, String reason, Set<String> requiredScopes) {

    public enum Outcome { ALLOW, DENY, STEP_UP }

    public Decision {
        Objects.requireNonNull(outcome, "outcome");
        Objects.requireNonNull(ruleId, "ruleId");
        Objects.requireNonNull(reason, "reason");
        requiredScopes = Set.copyOf(requiredScopes);
        if (outcome == Outcome.STEP_UP && requiredScopes.isEmpty()) {
            throw new IllegalArgumentException("a step-up decision names the scopes it requires");
        }
    }

    public static Decision allow(String ruleId, String reason) {
        return new Decision(Outcome.ALLOW, ruleId, reason, Set.of());
    }

    public static Decision deny(String ruleId, String reason) {
        return new Decision(Outcome.DENY, ruleId, reason, Set.of());
    }

    public static Decision stepUp(String ruleId, String reason, Set<String> requiredScopes) {
        return new Decision(Outcome.STEP_UP, ruleId, reason, requiredScopes);
    }

    public boolean allowed() {
        return outcome == Outcome.ALLOW;
    }
}
