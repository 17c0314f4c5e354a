package dev.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SubjectClaimsTest {

    @Test
    void readsTheGenericClaims() {
        Subject subject = SubjectClaims.fromJson("""
                {"iss":"https://idp","sub":"alice","client_id":"ide","scope":"todo:read  todo:write","roles":["admin"]}
                """);
        assertThat(subject.issuer()).isEqualTo("https://idp");
        assertThat(subject.subject()).isEqualTo("alice");
        assertThat(subject.agent()).isEqualTo("ide");
        assertThat(subject.scopes()).containsExactlyInAnyOrder("todo:read", "todo:write");
        assertThat(subject.roles()).containsExactly("admin");
    }

    @Test
    void fallsBackToAzpAndScpAndAcceptsEitherForm() {
        Subject subject = SubjectClaims.fromJson("{\"sub\":\"s\",\"azp\":\"bot\",\"scp\":[\"a\",\"b\"],\"roles\":\"ops\"}");
        assertThat(subject.agent()).isEqualTo("bot");
        assertThat(subject.scopes()).containsExactlyInAnyOrder("a", "b");
        assertThat(subject.roles()).containsExactly("ops");
        assertThat(SubjectClaims.fromJson("{\"scp\":\"x y\"}").scopes()).containsExactlyInAnyOrder("x", "y");
    }

    @Test
    void absentClaimsAreEmpty() {
        Subject subject = SubjectClaims.fromJson("{}");
        assertThat(subject.subject()).isEmpty();
        assertThat(subject.agent()).isEmpty();
        assertThat(subject.scopes()).isEmpty();
        assertThat(subject.roles()).isEmpty();
    }

    @Test
    void wrongTypesAreClearErrors() {
        assertThatThrownBy(() -> SubjectClaims.fromJson("[]")).hasMessage("claims: expected a JSON object");
        assertThatThrownBy(() -> SubjectClaims.fromJson("{\"roles\":{\"a\":1}}"))
                .hasMessage("claims: roles: expected a space-delimited string or a list of strings");
        assertThatThrownBy(() -> SubjectClaims.fromJson("{\"sub\":5}")).hasMessage("claims: sub: expected a string");
        assertThatThrownBy(() -> SubjectClaims.fromJson("{")).hasMessageStartingWith("claims: not valid JSON");
    }
}
