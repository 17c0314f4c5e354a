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
    void authenticatedOnlyAllowsEveryOperationAndSaysWhy() {
        Subject subject = new Subject("https://idp", "user-1", "agent", Set.of(), Set.of());
        Decision decision = Policy.authenticatedOnly()
                .decide(subject, new Operation("tools/call", Optional.of("delete_all")));
        assertThat(decision.allowed()).isTrue();
        assertThat(decision.ruleId()).isEqualTo("authenticated-only");
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
