package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.failure.GatewayFailure;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Issue 17: claims sealed like session ids (the approval requestState), and never mistaken for one another. */
class SealedClaimsTest {
    private final SessionBinding binding = SessionBinding.withRandomKey();
    private final Principal alice = new Principal("https://idp.example.com", "alice", "agent-1", Set.of(), Set.of(), Map.of(),
            "j", Instant.now().plusSeconds(60), new BearerToken("t"));

    @Test
    void sealedClaimsOpenWithTheirTypeOnly() {
        String sealed = binding.sealClaims("approval-state", Map.of("b", "binding-1", "x", 123));
        assertThat(sealed).doesNotContain("binding-1");
        assertThat(binding.openClaims("approval-state", sealed)).hasValueSatisfying(c ->
                assertThat(c.get("b").asText()).isEqualTo("binding-1"));
        assertThat(binding.openClaims("other", sealed)).isEmpty();
    }

    @Test
    void aSessionIdIsNotAStateAndAStateIsNotASessionId() {
        String session = binding.seal("upstream-session", alice, "r");
        assertThat(binding.openClaims("approval-state", session)).isEmpty();
        String state = binding.sealClaims("approval-state", Map.of("u", "smuggled", "p",
                SessionBinding.principalFingerprint(alice), "r", "r"));
        assertThatThrownBy(() -> binding.open(state, alice, "r")).isInstanceOf(GatewayFailure.class);
    }

    @Test
    void anotherKeyOrGarbageOpensNothing() {
        String sealed = SessionBinding.withRandomKey().sealClaims("approval-state", Map.of("b", "x"));
        assertThat(binding.openClaims("approval-state", sealed)).isEmpty();
        assertThat(binding.openClaims("approval-state", "not.a.jwe")).isEmpty();
        assertThat(binding.openClaims("approval-state", "eyJhbGciOiJkaXIifQ..x.y.z")).isEmpty();
        assertThat(binding.openClaims("approval-state", null)).isEmpty();
        assertThat(binding.openClaims("approval-state", "a".repeat(5000))).isEmpty();
    }
}
