package dev.portcullis.authn;

import com.nimbusds.jwt.JWTClaimsSet;
import dev.portcullis.config.IssuerConfig;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/** Turns validated claims into a {@link Principal}, using the issuer's claim names (presets). */
final class ClaimsMapping {
    private ClaimsMapping() {}

    static Principal principal(IssuerConfig config, JWTClaimsSet claims, BearerToken token) {
        String agent = "";
        for (String name : config.effectiveAgentClaims()) {
            if (claims.getClaim(name) instanceof String s && !s.isEmpty()) {
                agent = s;
                break;
            }
        }
        Set<String> scopes = strings(path(claims, config.effectiveScopeClaim()));
        Set<String> roles = strings(path(claims, config.effectiveRolesClaim()));
        @SuppressWarnings("unchecked")
        Map<String, Object> act = claims.getClaim("act") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
        return new Principal(claims.getIssuer(), claims.getSubject(), agent, scopes, roles, act,
                claims.getJWTID(), claims.getExpirationTime().toInstant(), token,
                claims.getExpirationTime().toInstant().plus(config.clockSkew()));
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
