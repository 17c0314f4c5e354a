package dev.portcullis.authn;

import com.nimbusds.jwt.JWTClaimsSet;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.policy.Subject;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Turns validated claims into a {@link Principal}, using the issuer's claim names (presets). The one
 * place claims become a policy {@link Subject}: the request path and {@code explain} both use it, so
 * they cannot read a token's roles, scopes or agent differently.
 */
public final class ClaimsMapping {
    private ClaimsMapping() {}

    static Principal principal(IssuerConfig config, JWTClaimsSet claims, BearerToken token) {
        return principal(config, claims, token, config.effectiveScopeClaim());
    }

    /**
     * @param scopeClaim where the scopes are: an introspection answer has them in {@code scope} (RFC 7662 §2.2),
     *                   whatever the issuer's preset says of its JWTs
     */
    static Principal principal(IssuerConfig config, JWTClaimsSet claims, BearerToken token, String scopeClaim) {
        Subject subject = subject(config, claims, scopeClaim);
        @SuppressWarnings("unchecked")
        Map<String, Object> act = claims.getClaim("act") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
        return new Principal(claims.getIssuer(), claims.getSubject(), subject.agent(), subject.scopes(), subject.roles(), act,
                claims.getJWTID(), claims.getExpirationTime().toInstant(), token,
                claims.getExpirationTime().toInstant().plus(config.clockSkew()), userName(claims));
    }

    /**
     * Where the IdPs put a user's login name: {@code preferred_username} (Keycloak, Okta, Entra v2, ZITADEL),
     * {@code upn} / {@code unique_name} (Entra v1), {@code username}, else {@code email}. Only for the audit
     * trail's {@code user.name}; never used to decide. Printable characters only, at most 128.
     */
    static final java.util.List<String> USER_NAME_CLAIMS = java.util.List.of("preferred_username", "upn", "unique_name",
            "username", "email");

    static String userName(JWTClaimsSet claims) {
        for (String name : USER_NAME_CLAIMS) {
            if (claims.getClaim(name) instanceof String value && !value.isBlank()) {
                StringBuilder clean = new StringBuilder();
                value.codePoints().filter(c -> c >= 0x20 && c != 0x7F && !Character.isISOControl(c)
                                && Character.getType(c) != Character.FORMAT)
                        .limit(128).forEach(clean::appendCodePoint);
                return clean.length() == 0 ? null : clean.toString();
            }
        }
        return null;
    }

    /** The policy subject of these claims under {@code config}'s claim names (preset and overrides). */
    public static Subject subject(IssuerConfig config, JWTClaimsSet claims) {
        return subject(config, claims, config.effectiveScopeClaim());
    }

    private static Subject subject(IssuerConfig config, JWTClaimsSet claims, String scopeClaim) {
        String agent = "";
        for (String name : config.effectiveAgentClaims()) {
            if (claims.getClaim(name) instanceof String s && !s.isEmpty()) {
                agent = s;
                break;
            }
        }
        Set<String> scopes = strings(path(claims, scopeClaim));
        Set<String> roles = strings(path(claims, config.effectiveRolesClaim()));
        String sub = claims.getSubject() == null ? "" : claims.getSubject();
        String iss = claims.getIssuer() == null ? "" : claims.getIssuer();
        return Subject.of(iss, sub, agent, scopes, roles, claims.getClaim("act") instanceof Map<?, ?> act ? act : null);
    }

    /**
     * A claims set from JSON text (a decoded token payload), as strictly as the request path reads
     * tokens: a member name written twice is refused.
     *
     * @throws IllegalArgumentException with a one-line reason
     */
    public static JWTClaimsSet parseClaims(String json) {
        return claims(() -> StrictJson.object(json));
    }

    /**
     * As {@link #parseClaims(String)} for a compact JWS's payload part (an approver's ID token), decoded strictly: a
     * character outside the base64url alphabet is refused too.
     *
     * @throws IllegalArgumentException with a one-line reason
     */
    public static JWTClaimsSet parseClaims(com.nimbusds.jose.util.Base64URL payload) {
        return claims(() -> StrictJson.object(payload));
    }

    private static JWTClaimsSet claims(java.util.function.Supplier<Map<String, Object>> members) {
        try {
            return JWTClaimsSet.parse(members.get());
        } catch (IllegalStateException e) {
            throw new IllegalArgumentException("not a JSON object with each member once");
        } catch (java.text.ParseException e) {
            throw new IllegalArgumentException("not a JSON object of claims (" + e.getMessage() + ")");
        }
    }

    /** Follows a dot path ({@code realm_access.roles}) into the claims. */
    static Object path(JWTClaimsSet claims, String path) {
        String[] parts = path.split("\\.");
        Object current = claims.getClaim(parts[0]);
        for (int i = 1; i < parts.length && current != null; i++) {
            current = current instanceof Map<?, ?> map ? map.get(parts[i]) : null;
        }
        return current;
    }

    /** A space-delimited string (RFC 8693 {@code scope}), an array of strings, or an object's keys; case preserved (AUTHN-12). */
    static Set<String> strings(Object value) {
        Set<String> out = new LinkedHashSet<>();
        if (value instanceof String s) {
            Arrays.stream(s.split(" ")).filter(x -> !x.isEmpty()).forEach(out::add);
        } else if (value instanceof Collection<?> c) {
            c.stream().filter(String.class::isInstance).map(String.class::cast).forEach(out::add);
        } else if (value instanceof Map<?, ?> m) {
            // ZITADEL: {"role": {"<org id>": "<org domain>"}}: the keys are the roles.
            m.keySet().stream().filter(String.class::isInstance).map(String.class::cast).forEach(out::add);
        }
        return out;
    }
}
