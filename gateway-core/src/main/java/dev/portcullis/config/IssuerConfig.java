package dev.portcullis.config;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * An identity provider whose access tokens the gateway accepts.
 *
 * @param issuer                 the exact {@code iss} value (compared code point by code point: AUTHN-06)
 * @param jwksUri                where the signing keys are; when absent, discovered from the issuer's
 *                               RFC 8414 / OpenID metadata, whose {@code issuer} must equal {@link #issuer}
 * @param algorithms             accepted JWS algorithms (default {@code [RS256, PS256, ES256]}); asymmetric only
 * @param claims                 claim-name preset: {@code generic} (default), {@code keycloak}, {@code entra}, {@code okta}, {@code auth0}
 * @param scopeClaim             overrides the preset's scope claim ({@code scope} string or {@code scp} array/string)
 * @param rolesClaim             overrides the preset's roles claim (dot path, e.g. {@code realm_access.roles})
 * @param agentClaim             overrides the preset's agent claim (e.g. {@code azp})
 * @param clockSkew              tolerated clock difference for {@code exp}/{@code nbf}/{@code iat} (default 30s, at most 60s: AUTHN-08)
 * @param requireAccessTokenType require header {@code typ: at+jwt} (RFC 9068) so ID tokens are refused (default true: AUTHN-09)
 * @param jwksRefresh            keys are re-fetched in the background this long after the last fetch (default 5m)
 * @param jwksMinRefreshInterval an unknown {@code kid} triggers at most one fetch per this interval (default 30s: SECURITY-04)
 * @param allowInsecureHttp      allow plain-http issuer/JWKS URLs on non-loopback hosts (development only; default false)
 * @param maxTokenLifetime       tokens whose {@code exp} lies further than this after {@code iat} (or now) are refused
 *                               (default 24h): a far-future token is a stolen-forever token
 */
public record IssuerConfig(String issuer, String jwksUri, List<String> algorithms, String claims,
                           String scopeClaim, String rolesClaim, String agentClaim, Duration clockSkew,
                           Boolean requireAccessTokenType, Duration jwksRefresh, Duration jwksMinRefreshInterval,
                           Boolean allowInsecureHttp, Duration maxTokenLifetime) {

    /** Asymmetric JWS algorithms only: HMAC against a public key and {@code none} can never be configured. */
    public static final Set<String> SUPPORTED_ALGORITHMS = Set.of(
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512");

    public IssuerConfig {
        allowInsecureHttp = allowInsecureHttp != null && allowInsecureHttp;
        Checks.httpUrl("issuer", issuer, allowInsecureHttp);
        if (jwksUri != null) {
            Checks.httpUrl("jwks-uri", jwksUri, allowInsecureHttp);
        }
        algorithms = algorithms == null ? List.of("RS256", "PS256", "ES256") : List.copyOf(algorithms);
        if (algorithms.isEmpty()) {
            throw ConfigException.expected("algorithms", "[]", "at least one of " + SUPPORTED_ALGORITHMS);
        }
        for (String alg : algorithms) {
            if (!SUPPORTED_ALGORITHMS.contains(alg)) {
                throw ConfigException.expected("algorithms", alg, "one of " + new java.util.TreeSet<>(SUPPORTED_ALGORITHMS)
                        + " (asymmetric only; none and HS* are never accepted)");
            }
        }
        claims = claims == null ? "generic" : claims;
        try {
            ClaimsPreset.valueOf(claims.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw ConfigException.expected("claims", claims, "one of generic, keycloak, entra, okta, auth0");
        }
        clockSkew = clockSkew == null ? Duration.ofSeconds(30) : clockSkew;
        if (clockSkew.isNegative() || clockSkew.compareTo(Duration.ofSeconds(60)) > 0) {
            throw ConfigException.expected("clock-skew", DurationText.format(clockSkew), "0s..60s");
        }
        requireAccessTokenType = requireAccessTokenType == null || requireAccessTokenType;
        jwksRefresh = jwksRefresh == null ? Duration.ofMinutes(5) : jwksRefresh;
        jwksMinRefreshInterval = jwksMinRefreshInterval == null ? Duration.ofSeconds(30) : jwksMinRefreshInterval;
        maxTokenLifetime = maxTokenLifetime == null ? Duration.ofHours(24) : maxTokenLifetime;
        if (maxTokenLifetime.compareTo(Duration.ofMinutes(1)) < 0) {
            throw ConfigException.expected("max-token-lifetime", DurationText.format(maxTokenLifetime), "at least 1m");
        }
        if (jwksRefresh.compareTo(Duration.ofSeconds(1)) < 0) {
            throw ConfigException.expected("jwks-refresh", DurationText.format(jwksRefresh), "at least 1s");
        }
    }

    public ClaimsPreset preset() {
        return ClaimsPreset.valueOf(claims.toUpperCase(Locale.ROOT));
    }

    public URI issuerUri() {
        return URI.create(issuer);
    }

    public String effectiveScopeClaim() {
        return scopeClaim != null ? scopeClaim : preset().scopeClaim();
    }

    public String effectiveRolesClaim() {
        return rolesClaim != null ? rolesClaim : preset().rolesClaim();
    }

    public List<String> effectiveAgentClaims() {
        return agentClaim != null ? List.of(agentClaim) : preset().agentClaims();
    }
}
