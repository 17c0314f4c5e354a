package dev.portcullis.approval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.policy.ApprovalRule;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Issue 17: one held call waiting for (or given) human approval, as the store keeps it (JSON). Immutable: every
 * change is a new value written with compare-and-set, so approvers acting at once on several replicas never
 * both count from the same state.
 *
 * @param id            random, unguessable (128 bits, base64url): the approval page's address
 * @param binding       what the approval is bound to ({@link ApprovalBinding}): subject, agent, tool, argument
 *                      digest, policy version (and issuer and route)
 * @param route         the route the call came in on
 * @param tool          the tool called
 * @param ruleId        the policy rule that requires approval
 * @param requester     who asks (issuer, subject, agent, name from the caller's token)
 * @param arguments     the call's arguments with the rule's masked paths replaced: what approvers see
 * @param argumentsDigest SHA-256 of the canonical JSON of the arguments as sent (unmasked)
 * @param roles         approver roles (the rule's, when the request was made)
 * @param groups        approver groups
 * @param rolesClaim    where an approver's roles are read from
 * @param count         distinct approvals needed
 * @param selfApproval  whether the requester may approve
 * @param singleUse     whether the approval lets one call through
 * @param createdAt     epoch milliseconds
 * @param expiresAt     epoch milliseconds: the request, and an approval given for it, end here
 * @param status        where it stands
 * @param decisions     each approver's decision, in order
 */
public record ApprovalRequest(String id, String binding, String route, String tool, String ruleId, Party requester,
                             JsonNode arguments, String argumentsDigest, Set<String> roles, Set<String> groups,
                             String rolesClaim, int count, boolean selfApproval, boolean singleUse, long createdAt,
                             long expiresAt, Status status, List<Vote> decisions) {

    public enum Status { PENDING, APPROVED, DENIED, USED, EXPIRED }

    /** A person, as its token names it. */
    public record Party(String issuer, String subject, String agent, String name) {
        /** The name to show: the login name, else the subject. */
        public String shown() {
            return name != null && !name.isBlank() ? name : subject;
        }

        boolean samePerson(Party other) {
            return issuer.equals(other.issuer) && subject.equals(other.subject);
        }
    }

    /** One approver's decision. */
    public record Vote(Party approver, boolean approve, String comment, long at) {}

    /** What an approver's attempt came to. */
    public enum Outcome {
        /** Approved: enough approvals now; the call may go through. */
        APPROVED,
        /** Counted: more approvals are needed. */
        COUNTED,
        DENIED,
        /** Refused: the requester may not approve its own call. */
        SELF_APPROVAL,
        /** Refused: the approver has none of the approver roles or groups. */
        NOT_AN_APPROVER,
        /** Refused: this approver already decided. */
        ALREADY_DECIDED,
        /** Refused: the request expired. */
        EXPIRED,
        /** Refused: the request is approved, denied or used already. */
        NOT_PENDING,
        NOT_FOUND
    }

    /** The new state after an attempt, and what it came to. */
    public record Change(Outcome outcome, ApprovalRequest after) {}

    public ApprovalRequest {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(binding, "binding");
        // Sorted: the stored JSON is written the same way every time (compare-and-set compares the text).
        roles = java.util.Collections.unmodifiableSortedSet(new java.util.TreeSet<>(roles));
        groups = java.util.Collections.unmodifiableSortedSet(new java.util.TreeSet<>(groups));
        decisions = List.copyOf(decisions);
    }

    /** A new pending request for a call the rule holds. */
    public static ApprovalRequest pending(String id, String binding, String route, String tool, ApprovalRule rule,
                                          Party requester, JsonNode maskedArguments, String argumentsDigest, long now) {
        return new ApprovalRequest(id, binding, route, tool, rule.ruleId(), requester, maskedArguments, argumentsDigest,
                rule.roles(), rule.groups(), rule.rolesClaim(), rule.count(), rule.selfApproval(), rule.singleUse(), now,
                now + rule.expires().toMillis(), Status.PENDING, List.of());
    }

    public boolean expired(long now) {
        return now >= expiresAt;
    }

    public long approvals() {
        return decisions.stream().filter(Vote::approve).count();
    }

    ApprovalRequest with(Status next, List<Vote> votes) {
        return new ApprovalRequest(id, binding, route, tool, ruleId, requester, arguments, argumentsDigest, roles, groups,
                rolesClaim, count, selfApproval, singleUse, createdAt, expiresAt, next, votes);
    }

    /**
     * An approver's decision applied: the checks, in order (expired, still pending, an approver at all, not the
     * requester unless allowed, not twice), then the vote. Pure: the store writes {@link Change#after} with
     * compare-and-set.
     *
     * @param approverRoles  the approver's roles from its own ID token ({@link #rolesClaim})
     * @param approverGroups its groups
     */
    public Change decide(Party approver, Set<String> approverRoles, Set<String> approverGroups, boolean approve,
                         String comment, long now) {
        if (status == Status.PENDING && expired(now)) {
            return new Change(Outcome.EXPIRED, with(Status.EXPIRED, decisions));
        }
        if (status == Status.EXPIRED) {
            return new Change(Outcome.EXPIRED, this);
        }
        if (status != Status.PENDING) {
            return new Change(Outcome.NOT_PENDING, this);
        }
        boolean qualified = roles.stream().anyMatch(approverRoles::contains) || groups.stream().anyMatch(approverGroups::contains);
        if (!qualified) {
            return new Change(Outcome.NOT_AN_APPROVER, this);
        }
        if (!selfApproval && approver.samePerson(requester)) {
            return new Change(Outcome.SELF_APPROVAL, this);
        }
        if (decisions.stream().anyMatch(v -> v.approver().samePerson(approver))) {
            return new Change(Outcome.ALREADY_DECIDED, this);
        }
        List<Vote> votes = new ArrayList<>(decisions);
        votes.add(new Vote(approver, approve, comment == null ? "" : comment, now));
        if (!approve) {
            return new Change(Outcome.DENIED, with(Status.DENIED, votes));
        }
        ApprovalRequest after = with(Status.PENDING, votes);
        if (after.approvals() >= count) {
            return new Change(Outcome.APPROVED, after.with(Status.APPROVED, votes));
        }
        return new Change(Outcome.COUNTED, after);
    }
}
