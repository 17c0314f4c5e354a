package dev.portcullis.policy;

import java.util.Objects;
import java.util.Set;

/**
 * Who is asking, built only from validated token claims (never from {@code _meta}, arguments
 * or client headers: POLICY-06).
 *
 * @param issuer  the token's {@code iss}
 * @param subject the token's {@code sub}
 * @param agent   the OAuth client acting for the subject ({@code client_id} / {@code azp}), or empty
 * @param scopes  granted scopes, case-sensitive (AUTHN-12)
 * @param roles   roles or groups from the configured claim
 */
public record Subject(String issuer, String subject, String agent, Set<String> scopes, Set<String> roles) {
    public Subject {
        Objects.requireNonNull(issuer, "issuer");
        Objects.requireNonNull(subject, "subject");
        agent = agent == null ? "" : agent;
        scopes = Set.copyOf(scopes);
        roles = Set.copyOf(roles);
    }
}
