package dev.portcullis.policy;

import java.util.Map;
import java.util.Optional;

/**
 * Issue 17: the approval requirements of a policy file, by {@link Rule#id()} (only tool rules have them).
 * A call the policy allows is held for approval when the rule that allowed it has one and its {@code when}
 * conditions match the call's arguments ({@link ApprovalRule#applies}).
 */
public final class Approvals {
    /** No rule needs approval. */
    public static final Approvals NONE = new Approvals(Map.of());

    private final Map<String, ApprovalRule> byRule;

    public Approvals(Map<String, ApprovalRule> byRule) {
        this.byRule = Map.copyOf(byRule);
    }

    /** The approval the rule {@code ruleId} requires, if any. */
    public Optional<ApprovalRule> of(String ruleId) {
        return Optional.ofNullable(byRule.get(ruleId));
    }

    public Map<String, ApprovalRule> byRule() {
        return byRule;
    }

    public boolean isEmpty() {
        return byRule.isEmpty();
    }
}
