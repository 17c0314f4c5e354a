package dev.portcullis.policy;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Issue 17: a rule's {@code approval}: calls it allows are held until enough people named here approve
 * that exact call (subject, agent, tool, canonical argument digest, policy version).
 *
 * <pre>
 * tools:
 *   pay:
 *     roles: [payer]
 *     approval:
 *       approvers: { roles: [finance-lead], groups: [treasury], claim: realm_access.roles }
 *       count: 1              # distinct approvers needed (default 1)
 *       expires: 15m          # how long the request and its approval live (default 15m)
 *       self-approval: false  # the caller may approve its own call (default false)
 *       single-use: true      # one approval lets one call through (default true)
 *       when: { amount: { min: 1000 } }   # only calls whose arguments match (default: every call)
 *       mask: [card.number]   # arguments shown as [redacted] on the approval page
 * </pre>
 *
 * @param ruleId       the rule it belongs to
 * @param roles        an approver needs one of these roles (read from {@code rolesClaim} of its ID token) ...
 * @param groups       ... or one of these groups (read from the {@code groups} claim)
 * @param rolesClaim   the dotted claim path the approver's roles are read from (default {@code roles})
 * @param count        distinct approvers needed
 * @param expires      how long a request waits for approval and an approval waits for its call
 * @param selfApproval whether the caller may approve its own call
 * @param singleUse    whether one approval lets exactly one call through (else every identical call until expiry)
 * @param when         the call needs approval only when every condition holds; empty: always. An argument a
 *                     condition names that the call does not send counts as matching (the upstream's default
 *                     is unknown to the gateway, so the cautious reading holds the call)
 * @param mask         dotted argument paths shown masked to approvers
 */
public record ApprovalRule(String ruleId, Set<String> roles, Set<String> groups, String rolesClaim, int count,
                           Duration expires, boolean selfApproval, boolean singleUse, List<ArgumentConstraint> when,
                           List<String> mask) {
    public static final Duration DEFAULT_EXPIRY = Duration.ofMinutes(15);
    public static final Duration MIN_EXPIRY = Duration.ofSeconds(1);
    public static final Duration MAX_EXPIRY = Duration.ofDays(7);
    public static final int MAX_COUNT = 10;
    public static final String DEFAULT_ROLES_CLAIM = "roles";
    public static final String GROUPS_CLAIM = "groups";

    public ApprovalRule {
        Objects.requireNonNull(ruleId, "ruleId");
        roles = sorted(roles);
        groups = sorted(groups);
        rolesClaim = rolesClaim == null ? DEFAULT_ROLES_CLAIM : rolesClaim;
        if (roles.isEmpty() && groups.isEmpty()) {
            throw new IllegalArgumentException("an approval names at least one approver role or group");
        }
        if (count < 1 || count > MAX_COUNT) {
            throw new IllegalArgumentException("count is 1.." + MAX_COUNT);
        }
        Objects.requireNonNull(expires, "expires");
        when = List.copyOf(when);
        mask = List.copyOf(mask);
    }

    /** Whether a call with {@code arguments} ({@code params.arguments}, possibly null) needs approval. */
    public boolean applies(JsonNode arguments) {
        for (ArgumentConstraint condition : when) {
            if (condition.violation(arguments).isPresent()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether someone with these roles and groups (from its own ID token) may approve. The requester rule
     * ({@link #selfApproval}) is checked by the caller, which knows both identities.
     */
    public boolean mayApprove(Collection<String> approverRoles, Collection<String> approverGroups) {
        return !Collections.disjoint(roles, approverRoles) || !Collections.disjoint(groups, approverGroups);
    }

    /** One line for {@code explain} and logs, e.g. {@code 1 of roles ["finance-lead"], expires 15m, single-use}. */
    public String describe() {
        StringBuilder out = new StringBuilder().append(count).append(" of ");
        if (!roles.isEmpty()) out.append("roles ").append(Text.list(roles));
        if (!roles.isEmpty() && !groups.isEmpty()) out.append(" or ");
        if (!groups.isEmpty()) out.append("groups ").append(Text.list(groups));
        out.append(", expires ").append(expires.toSeconds()).append("s");
        out.append(singleUse ? ", single-use" : ", reusable until expiry");
        if (selfApproval) out.append(", self-approval allowed");
        if (!when.isEmpty()) out.append(", when ").append(when);
        return out.toString();
    }

    private static Set<String> sorted(Set<String> values) {
        return Collections.unmodifiableSortedSet(new TreeSet<>(values));
    }
}
