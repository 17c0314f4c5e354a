package dev.portcullis.policy;

import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Who is asking, built only from validated token claims (never from {@code _meta}, arguments
 * or client headers: POLICY-06).
 *
 * @param issuer     the token's {@code iss}
 * @param subject    the token's {@code sub}
 * @param agent      the OAuth client acting for the subject ({@code client_id} / {@code azp}), or the SPIFFE ID of
 *                   the connection's X.509-SVID, or empty
 * @param scopes     granted scopes, case-sensitive (AUTHN-12)
 * @param roles      roles or groups from the configured claim
 * @param actors     the token's delegation chain ({@code act}, nested), current actor first; empty for a direct call
 * @param chainDepth how deep {@code act} nests (may exceed {@code actors}' size when it nests deeper than
 *                   {@link Delegation#MAX_CHAIN})
 */
public record Subject(String issuer, String subject, String agent, Set<String> scopes, Set<String> roles,
                      List<Actor> actors, int chainDepth) {
    public Subject {
        Objects.requireNonNull(issuer, "issuer");
        Objects.requireNonNull(subject, "subject");
        agent = agent == null ? "" : agent;
        scopes = Set.copyOf(scopes);
        roles = Set.copyOf(roles);
        actors = actors == null ? List.of() : List.copyOf(actors);
        chainDepth = Math.max(chainDepth, actors.size());
    }

    /** A direct caller (no delegation chain). */
    public Subject(String issuer, String subject, String agent, Set<String> scopes, Set<String> roles) {
        this(issuer, subject, agent, scopes, roles, List.of(), 0);
    }

    /** A caller whose token carries {@code act} (a JSON-like map, as Nimbus or Jackson read it), or null. */
    public static Subject of(String issuer, String subject, String agent, Set<String> scopes, Set<String> roles, Object act) {
        return act == null ? new Subject(issuer, subject, agent, scopes, roles)
                : new Subject(issuer, subject, agent, scopes, roles, Actor.chain(act, Delegation.MAX_CHAIN),
                        Actor.chainDepth(act, Delegation.MAX_CHAIN));
    }
}
