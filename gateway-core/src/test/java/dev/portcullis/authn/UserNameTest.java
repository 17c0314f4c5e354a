package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jwt.JWTClaimsSet;
import dev.portcullis.audit.AuditEvent;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The audit trail's {@code user.name} (issue 15): from the IdP's login-name claim, cleaned, never deciding anything. */
class UserNameTest {
    private static String name(Map<String, Object> claims) {
        JWTClaimsSet.Builder builder = new JWTClaimsSet.Builder();
        claims.forEach(builder::claim);
        return ClaimsMapping.userName(builder.build());
    }

    @Test
    void takenFromTheIdpsLoginNameClaimInPreferenceOrder() {
        assertThat(name(Map.of("preferred_username", "alice", "email", "alice@example.com"))).isEqualTo("alice");
        assertThat(name(Map.of("upn", "alice@contoso.com"))).isEqualTo("alice@contoso.com"); // Entra v1
        assertThat(name(Map.of("email", "bob@example.com"))).isEqualTo("bob@example.com");
        assertThat(name(Map.of("sub", "user-1"))).isNull();
        assertThat(name(Map.of("preferred_username", 42))).isNull();
    }

    @Test
    void controlAndFormatCharactersAreDroppedAndTheLengthIsCapped() {
        assertThat(name(Map.of("preferred_username", "mal\r\nlory\u202e\u0000"))).isEqualTo("mallory");
        assertThat(name(Map.of("preferred_username", "x".repeat(500)))).hasSize(128);
        assertThat(name(Map.of("preferred_username", "\n\t"))).isNull();
    }

    @Test
    void theAuditEventCarriesItAsUserName() {
        AuditEvent event = new AuditEvent(Instant.EPOCH, "r1", "todo", "user-1", "https://idp", "agent", Map.of(), null, "POST",
                "tools/call", "echo", "1", "allow", "tools.echo", "allowed", 200, 200, 1000L, null, "127.0.0.1", "ua", null,
                null, null, null, "alice");
        assertThat(event.fields()).containsEntry("user.id", "user-1").containsEntry("user.name", "alice");
    }
}
