package dev.portcullis.authn;

import dev.portcullis.policy.Subject;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Who is calling, from a validated token. The raw token rides along only for the exchange stage;
 * {@link #toString()} never shows it.
 *
 * @param issuer    {@code iss}
 * @param subject   {@code sub}
 * @param agent     the client acting for the subject ({@code client_id}/{@code azp}, per issuer preset), or ""
 * @param scopes    granted scopes (case-sensitive)
 * @param roles     roles/groups from the configured claim
 * @param actor     the top-level {@code act} claim, if any (EXCHANGE-08: IdP-issued, audit only)
 * @param tokenId   {@code jti}, or ""
 * @param expiresAt {@code exp}
 * @param token     the bearer token itself
 * @param acceptedUntil the last moment the token is accepted: {@code exp} plus the issuer's clock skew
 * @param userName  the user's login or display name for the audit trail ({@code user.name}), or null
 */
public record Principal(String issuer, String subject, String agent, Set<String> scopes, Set<String> roles,
                        Map<String, Object> actor, String tokenId, Instant expiresAt, BearerToken token,
                        Instant acceptedUntil, String userName) {
    /** A principal without a user name. */
    public Principal(String issuer, String subject, String agent, Set<String> scopes, Set<String> roles,
                     Map<String, Object> actor, String tokenId, Instant expiresAt, BearerToken token, Instant acceptedUntil) {
        this(issuer, subject, agent, scopes, roles, actor, tokenId, expiresAt, token, acceptedUntil, null);
    }

    /** A principal accepted until exactly {@code expiresAt} (no clock skew). */
    public Principal(String issuer, String subject, String agent, Set<String> scopes, Set<String> roles,
                     Map<String, Object> actor, String tokenId, Instant expiresAt, BearerToken token) {
        this(issuer, subject, agent, scopes, roles, actor, tokenId, expiresAt, token, expiresAt);
    }

    public Principal {
        Objects.requireNonNull(issuer);
        Objects.requireNonNull(subject);
        scopes = Set.copyOf(scopes);
        roles = Set.copyOf(roles);
        actor = actor == null ? Map.of() : Map.copyOf(actor);
        tokenId = tokenId == null ? "" : tokenId;
        agent = agent == null ? "" : agent;
        acceptedUntil = acceptedUntil == null ? expiresAt : acceptedUntil;
    }

    /** The same principal acting through another agent (a SPIFFE ID from the connection's certificate, issue 16). */
    public Principal withAgent(String otherAgent) {
        return new Principal(issuer, subject, otherAgent, scopes, roles, actor, tokenId, expiresAt, token, acceptedUntil,
                userName);
    }

    public Subject asSubject() {
        // Issue 16: the act chain goes with the caller, for delegation.max-depth / narrowing and the rules' actors.
        return Subject.of(issuer, subject, agent, scopes, roles, actor.isEmpty() ? null : actor);
    }

    @Override
    public String toString() {
        return "Principal[iss=" + issuer + ", sub=" + subject + ", agent=" + agent + ", scopes=" + scopes
                + ", jti=" + tokenId + ", exp=" + expiresAt + ", token=" + token + "]";
    }
}
