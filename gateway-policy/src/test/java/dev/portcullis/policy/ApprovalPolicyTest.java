package dev.portcullis.policy;

import static dev.portcullis.policy.Policies.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Issue 17: {@code approval} in a policy file: its fields, when it applies, and load errors naming file, line and field. */
class ApprovalPolicyTest {
    private static final String POLICY = """
            default: deny
            tools:
              pay:
                roles: [payer]
                approval:
                  approvers: { roles: [finance-lead], groups: [treasury], claim: realm_access.roles }
                  count: 2
                  expires: 10m
                  self-approval: true
                  single-use: false
                  when: { amount: { min: 1000 }, currency: { one-of: [EUR, USD] } }
                  mask: [card.number]
              delete_todo:
                approval: { approvers: { roles: [admin] } }
              read_todo: {}
              quiet:
                approval: { required: false }
            """;

    private static void assertError(String yaml, String message) {
        assertThatThrownBy(() -> PolicyLoader.parse(yaml, "approvals.yaml"))
                .isInstanceOfSatisfying(InvalidPolicyException.class, e -> assertThat(e.problems()).containsExactly(message));
    }

    @Test
    void everyFieldIsRead() {
        CompiledPolicy policy = Policies.policy(POLICY);
        ApprovalRule pay = policy.approvals().of("tools.pay").orElseThrow();
        assertThat(pay.roles()).containsExactly("finance-lead");
        assertThat(pay.groups()).containsExactly("treasury");
        assertThat(pay.rolesClaim()).isEqualTo("realm_access.roles");
        assertThat(pay.count()).isEqualTo(2);
        assertThat(pay.expires()).isEqualTo(Duration.ofMinutes(10));
        assertThat(pay.selfApproval()).isTrue();
        assertThat(pay.singleUse()).isFalse();
        assertThat(pay.mask()).containsExactly("card.number");
        assertThat(pay.when()).hasSize(2);
    }

    @Test
    void defaultsAreTheCautiousOnes() {
        ApprovalRule delete = Policies.policy(POLICY).approvals().of("tools.delete_todo").orElseThrow();
        assertThat(delete.count()).isEqualTo(1);
        assertThat(delete.expires()).isEqualTo(Duration.ofMinutes(15));
        assertThat(delete.selfApproval()).as("the caller may not approve its own call").isFalse();
        assertThat(delete.singleUse()).as("one approval, one call").isTrue();
        assertThat(delete.rolesClaim()).isEqualTo("roles");
        assertThat(delete.applies(json("{}"))).as("no when: every call").isTrue();
        assertThat(delete.applies(null)).isTrue();
    }

    @Test
    void rulesWithoutApprovalAndRequiredFalseHoldNothing() {
        CompiledPolicy policy = Policies.policy(POLICY);
        assertThat(policy.approvals().of("tools.read_todo")).isEmpty();
        assertThat(policy.approvals().of("tools.quiet")).isEmpty();
        assertThat(policy.approvals().byRule()).containsOnlyKeys("tools.pay", "tools.delete_todo");
    }

    @Test
    void whenMatchesOnlyCallsWhoseArgumentsHoldEveryCondition() {
        ApprovalRule pay = Policies.policy(POLICY).approvals().of("tools.pay").orElseThrow();
        assertThat(pay.applies(json("{\"amount\": 5000, \"currency\": \"EUR\"}"))).isTrue();
        assertThat(pay.applies(json("{\"amount\": 1000, \"currency\": \"USD\"}"))).as("min is inclusive").isTrue();
        assertThat(pay.applies(json("{\"amount\": 999.99, \"currency\": \"EUR\"}"))).isFalse();
        assertThat(pay.applies(json("{\"amount\": 5000, \"currency\": \"GBP\"}"))).isFalse();
        // The upstream's default for an argument not sent is unknown: the cautious reading holds the call.
        assertThat(pay.applies(json("{\"currency\": \"EUR\"}"))).isTrue();
        assertThat(pay.applies(json("{}"))).isTrue();
        assertThat(pay.applies(json("{\"amount\": \"lots\", \"currency\": \"EUR\"}")))
                .as("a number condition on a string does not hold").isFalse();
    }

    @Test
    void approversQualifyByRoleOrGroup() {
        ApprovalRule pay = Policies.policy(POLICY).approvals().of("tools.pay").orElseThrow();
        assertThat(pay.mayApprove(Set.of("finance-lead"), Set.of())).isTrue();
        assertThat(pay.mayApprove(Set.of(), Set.of("treasury"))).isTrue();
        assertThat(pay.mayApprove(Set.of("payer", "treasury"), Set.of("finance-lead"))).as("roles and groups do not mix")
                .isFalse();
        assertThat(pay.mayApprove(List.of(), List.of())).isFalse();
    }

    @Test
    void theVersionFollowsTheText() {
        String version = Policies.policy(POLICY).version();
        assertThat(version).hasSize(32).isEqualTo(Policies.policy(POLICY).version());
        assertThat(Policies.policy(POLICY + "  other: {}\n").version()).isNotEqualTo(version);
    }

    @Test
    void noApproversIsAnError() {
        assertError("tools:\n  pay:\n    approval: { count: 1 }\n",
                "approvals.yaml:3: tools.pay.approval: no approvers (expected: approvers: { roles: [...] } or"
                        + " { groups: [...] }; nobody could approve)");
        assertError("tools:\n  pay:\n    approval:\n      approvers: {}\n",
                "approvals.yaml:4: tools.pay.approval.approvers: no roles or groups (expected: at least one;"
                        + " nobody could approve)");
    }

    @Test
    void badFieldsNameLineAndField() {
        assertError("tools:\n  pay:\n    approval:\n      approvers: { roles: [a] }\n      expires: 15 minutes\n",
                "approvals.yaml:5: tools.pay.approval.expires: \"15 minutes\" (expected: a duration from 1s to 7d, such as"
                        + " 90s, 15m, 2h or 1d)");
        assertError("tools:\n  pay:\n    approval:\n      approvers: { roles: [a] }\n      expires: 8d\n",
                "approvals.yaml:5: tools.pay.approval.expires: \"8d\" (expected: a duration from 1s to 7d, such as"
                        + " 90s, 15m, 2h or 1d)");
        assertError("tools:\n  pay:\n    approval:\n      approvers: { roles: [a] }\n      count: 0\n",
                "approvals.yaml:5: tools.pay.approval.count: 0 (expected: a whole number of distinct approvers, 1..10)");
        assertError("tools:\n  pay:\n    approval:\n      approvers: { roles: [a] }\n      single-use: 1\n",
                "approvals.yaml:5: tools.pay.approval.single-use: 1 (expected: true or false)");
        assertError("tools:\n  pay:\n    approval:\n      approvers: { role: [a] }\n",
                "approvals.yaml:4: tools.pay.approval.approvers.role: unknown key (expected one of: claim, groups, roles)");
        assertError("tools:\n  pay:\n    approval:\n      approvers: { roles: [a] }\n      when: { amount: { min: x } }\n",
                "approvals.yaml:5: tools.pay.approval.when.amount.min: \"x\" (expected: a number)");
        assertError("tools:\n  pay:\n    approval:\n      approvers: { roles: [a] }\n      when: { amount: { min: 1, optional: true } }\n",
                "approvals.yaml:5: tools.pay.approval.when.amount.optional: unknown key (in when, an argument the call does"
                        + " not send always counts as matching; expected one of: equals, max, max-length, min, one-of, pattern)");
        assertError("tools:\n  pay:\n    approval:\n      approvers: { roles: [a] }\n      expiry: 1m\n",
                "approvals.yaml:5: tools.pay.approval.expiry: unknown key (expected one of: approvers, count, expires, mask,"
                        + " required, self-approval, single-use, when)");
    }

    @Test
    void approvalBelongsToToolsAndNotBesideDeny() {
        assertError("prompts:\n  p:\n    approval: { approvers: { roles: [a] } }\n",
                "approvals.yaml:3: prompts.p.approval: unknown key (approval applies to tools only; expected one of: actors,"
                        + " agents, arguments, deny, limits, roles, scopes)");
        assertError("tools:\n  pay:\n    deny: true\n    approval: { approvers: { roles: [a] } }\n",
                "approvals.yaml:3: tools.pay.deny: true (expected: deny alone; a denying rule has no scopes, roles, agents,"
                        + " arguments or approval)");
    }
}
