package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SessionBindingTest {
    private final SessionBinding binding = SessionBinding.withRandomKey();

    private static Principal principal(String sub, String agent, String jti) {
        return new Principal("https://idp", sub, agent, Set.of(), Set.of(), Map.of(), jti, Instant.now().plusSeconds(60),
                new BearerToken("t-" + jti));
    }

    private void assertNotFound(Runnable open) {
        assertThatThrownBy(open::run).isInstanceOfSatisfying(GatewayFailure.class,
                f -> assertThat(f.reason()).isEqualTo(Reason.SESSION_NOT_FOUND));
    }

    @Test
    void session02SealedIdIsVisibleAsciiUnguessableAndHidesTheUpstreamId() {
        String sealed = binding.seal("upstream-session-1", principal("alice", "ide", "j1"), "todo");
        assertThat(sealed).matches("^[\\x21-\\x7E]{22,}$").doesNotContain("upstream-session-1");
        assertThat(binding.seal("upstream-session-1", principal("alice", "ide", "j1"), "todo")).isNotEqualTo(sealed);
        assertThat(binding.open(sealed, principal("alice", "ide", "j1"), "todo")).isEqualTo("upstream-session-1");
    }

    @Test
    void session06ARefreshedTokenOfTheSamePrincipalKeepsTheSession() {
        String sealed = binding.seal("u1", principal("alice", "ide", "j1"), "todo");
        assertThat(binding.open(sealed, principal("alice", "ide", "j2"), "todo")).isEqualTo("u1");
    }

    @Test
    void session01AnotherPrincipalAgentOrRouteGets404() {
        String sealed = binding.seal("u1", principal("alice", "ide", "j1"), "todo");
        assertNotFound(() -> binding.open(sealed, principal("mallory", "ide", "j9"), "todo"));
        assertNotFound(() -> binding.open(sealed, principal("alice", "other-agent", "j1"), "todo"));
        assertNotFound(() -> binding.open(sealed, principal("alice", "ide", "j1"), "billing"));
    }

    @Test
    void session03ForgedTamperedOrForeignIdsGet404() {
        String sealed = binding.seal("u1", principal("alice", "ide", "j1"), "todo");
        Principal alice = principal("alice", "ide", "j1");
        assertNotFound(() -> binding.open("u1", alice, "todo"));
        assertNotFound(() -> binding.open(sealed.substring(0, sealed.length() - 2) + "AA", alice, "todo"));
        assertNotFound(() -> SessionBinding.withRandomKey().open(sealed, alice, "todo"));
        assertNotFound(() -> binding.open("eyJhbGciOiJub25lIn0.e30.", alice, "todo"));
    }

    /** Issue 12, item 8: a crafted id is an unknown session (404), whatever the JOSE parser makes of it; never a 500. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {
            "eyJhbGciOiJkaXIifQ..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA", // {"alg":"dir"}: a JWE header without enc
            "eyJlbmMiOiJBMjU2R0NNIn0..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA", // {"enc":"A256GCM"}: no alg
            "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwiemlwIjoiREVGIn0..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA", // zip
            "eyJhbGciOiJkaXIiLCJlbmMiOjF9..A.A.A", // enc a number
            "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..!!.AAAA.AAAA", // not base64url
            "W10..A.A.A", // header an array
            "bnVsbA..A.A.A", // header null
            "e30..A.A.A", // header {}
            "....",
            "a.b.c.d.e.f",
            " ",
            "",
    })
    void malformedSessionIdIs404NotA500(String crafted) {
        Principal alice = principal("alice", "ide", "j1");
        assertNotFound(() -> binding.open(crafted, alice, "todo"));
    }

    @Test
    void overlongSessionIdIs404WithoutBeingParsed() {
        assertNotFound(() -> binding.open("A".repeat(SessionBinding.MAX_ID_LENGTH + 1), principal("alice", "ide", "j1"), "todo"));
        assertNotFound(() -> binding.open(null, principal("alice", "ide", "j1"), "todo"));
    }

    @Test
    void replicasSharingTheKeyOpenEachOthersSessions() {
        byte[] key = new byte[32];
        key[0] = 7;
        String sealed = new SessionBinding(key).seal("u1", principal("alice", "ide", "j1"), "todo");
        assertThat(new SessionBinding(key).open(sealed, principal("alice", "ide", "j1"), "todo")).isEqualTo("u1");
    }

    /** Key rotation (issue 14): the new key seals, the old one still opens, an unrelated key opens nothing. */
    @Test
    void rotatedKeySealsWithTheNewKeyAndStillOpensSessionsSealedWithThePreviousOne() {
        byte[] oldKey = new byte[32];
        byte[] newKey = new byte[32];
        java.util.Arrays.fill(oldKey, (byte) 1);
        java.util.Arrays.fill(newKey, (byte) 2);
        Principal alice = principal("alice", "ide", "j1");
        SessionBinding before = new SessionBinding(oldKey);
        SessionBinding rotated = new SessionBinding(newKey, java.util.List.of(oldKey));
        String oldSession = before.seal("u-old", alice, "todo");
        String newSession = rotated.seal("u-new", alice, "todo");

        assertThat(rotated.open(oldSession, alice, "todo")).isEqualTo("u-old");
        assertThat(rotated.open(newSession, alice, "todo")).isEqualTo("u-new");
        assertNotFound(() -> before.open(newSession, alice, "todo")); // sealed with the new key, not the old one
        assertNotFound(() -> new SessionBinding(newKey).open(oldSession, alice, "todo")); // old key dropped
        assertNotFound(() -> rotated.open(oldSession, principal("mallory", "ide", "j9"), "todo"));
    }
}
