package dev.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DecisionTest {

    @Test
    void stepUpMustNameScopes() {
        assertThatThrownBy(() -> Decision.stepUp("r1", "needs more", Set.of()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(Decision.stepUp("r1", "needs write", Set.of("todo:write")).requiredScopes())
                .containsExactly("todo:write");
    }

    @Test
    void allowMayCarryTheScopesItsRuleRequired() {
        Decision decision = Decision.allow("tools.list_todos", "ok", Set.of("todo:read"));
        assertThat(decision.allowed()).isTrue();
        assertThat(decision.requiredScopes()).containsExactly("todo:read");
        assertThat(Decision.allow("r", "ok").requiredScopes()).isEmpty();
    }

    @Test
    void jsonrpc08bDenyHidesByDefaultAndDenyVisibleDoesNot() {
        assertThat(Decision.deny("default", "no rule").hidden()).isTrue();
        assertThat(Decision.deny("default", "no rule").visible()).isFalse();
        assertThat(Decision.denyVisible("tools.x", "argument").hidden()).isFalse();
        assertThat(Decision.denyVisible("tools.x", "argument").visible()).isTrue();
    }

    @Test
    void onlyADenialCanHideAndNoDenialNamesScopes() {
        assertThatThrownBy(() -> new Decision(Decision.Outcome.ALLOW, "r", "x", Set.of(), true))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Decision(Decision.Outcome.DENY, "r", "x", Set.of("a"), true))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(Decision.stepUp("r", "x", Set.of("a")).visible()).isFalse();
    }

    @Test
    void authenticatedOnlyAllowsEveryOperationAndSaysWhy() {
        Subject subject = new Subject("https://idp", "user-1", "agent", Set.of(), Set.of());
        Decision decision = Policy.authenticatedOnly()
                .decide(subject, new Operation("tools/call", Optional.of("delete_all")));
        assertThat(decision.allowed()).isTrue();
        assertThat(decision.ruleId()).isEqualTo("authenticated-only");
        assertThat(Policy.authenticatedOnly().visible(subject, "tool", "delete_all")).isTrue();
    }

    @Test
    void operationWithoutArgumentsCarriesAMissingNode() {
        assertThat(new Operation("ping", Optional.empty()).arguments().isMissingNode()).isTrue();
        assertThat(new Operation("tools/call", Optional.of("x"), null).arguments().isMissingNode()).isTrue();
    }

    @Test
    void subjectCopiesItsSets() {
        var scopes = new java.util.HashSet<>(Set.of("a"));
        Subject subject = new Subject("iss", "sub", null, scopes, Set.of());
        scopes.add("b");
        assertThat(subject.scopes()).containsExactly("a");
        assertThat(subject.agent()).isEmpty();
    }
}
