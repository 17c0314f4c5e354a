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
 * @param claims                 the IdP preset ({@link ClaimsPreset}): {@code generic} (default), {@code keycloak}, {@code entra},
 *                               {@code okta}, {@code auth0}, {@code zitadel}: claim names, token type and issuer form
 * @param scopeClaim             overrides the preset's scope claim ({@code scope} string or {@code scp} array/string)
 * @param rolesClaim             overrides the preset's roles claim (dot path, e.g. {@code realm_access.roles})
 * @param agentClaim             overrides the preset's agent claim (e.g. {@code azp})
 * @param clockSkew              tolerated clock difference for {@code exp}/{@code nbf}/{@code iat} (default 30s, at most 60s: AUTHN-08)
 * @param requireAccessTokenType require header {@code typ: at+jwt} (RFC 9068) so ID tokens are refused (AUTHN-09); the
 *                               default is the preset's: true for {@code generic}, false for the IdPs that issue
 *                               {@code typ: JWT}, whose access tokens are then recognised by the preset's marker claim
 * @param jwksRefresh            keys are re-fetched in the background this long after the last fetch (default 5m)
 * @param jwksMinRefreshInterval an unknown {@code kid} triggers at most one fetch per this interval (default 30s: SECURITY-04)
 * @param allowInsecureHttp      allow plain-http issuer/JWKS URLs on non-loopback hosts (development only; default false)
 * @param maxTokenLifetime       tokens whose {@code exp} lies further than this after {@code iat} (or now) are refused
 *                               (default 24h): a far-future token is a stolen-forever token
 * @param multiTenant            accept an issuer template with {@code {tenantid}} (Entra multi-tenant apps): a token's
 *                               {@code iss} must be the template with a tenant GUID in its place and its {@code tid} claim
 *                               that same GUID (default false: a template is refused, since it matches every tenant)
 * @param tenants                with {@code multi-tenant}: the tenant ids accepted (default: any tenant)
 * @param dpop                   DPoP-bound tokens of this issuer (RFC 9449, docs/dpop.md): {@code off} (default),
 *                               {@code allowed} or {@code required}; proofs must be signed with one of {@link #algorithms}
 * @param introspection          token introspection (RFC 7662, docs/introspection.md) at this issuer: its opaque tokens,
 *                               and optionally its JWTs, are judged by the issuer's introspection endpoint; null: none
 */
public record IssuerConfig(String issuer, String jwksUri, List<String> algorithms, String claims,
                           String scopeClaim, String rolesClaim, String agentClaim, Duration clockSkew,
                           Boolean requireAccessTokenType, Duration jwksRefresh, Duration jwksMinRefreshInterval,
                           Boolean allowInsecureHttp, Duration maxTokenLifetime, Boolean multiTenant, List<String> tenants,
                           String dpop, IntrospectionConfig introspection) {

    /** The placeholder of Entra's multi-tenant issuer template (as in its {@code common} metadata). */
    public static final String TENANT_TEMPLATE = "{tenantid}";
    private static final java.util.regex.Pattern GUID =
            java.util.regex.Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    /** Without introspection (tests, benchmarks). */
    public IssuerConfig(String issuer, String jwksUri, List<String> algorithms, String claims,
                        String scopeClaim, String rolesClaim, String agentClaim, Duration clockSkew,
                        Boolean requireAccessTokenType, Duration jwksRefresh, Duration jwksMinRefreshInterval,
                        Boolean allowInsecureHttp, Duration maxTokenLifetime, Boolean multiTenant, List<String> tenants,
                        String dpop) {
        this(issuer, jwksUri, algorithms, claims, scopeClaim, rolesClaim, agentClaim, clockSkew, requireAccessTokenType,
                jwksRefresh, jwksMinRefreshInterval, allowInsecureHttp, maxTokenLifetime, multiTenant, tenants, dpop, null);
    }

    /** Without DPoP (tests, benchmarks). */
    public IssuerConfig(String issuer, String jwksUri, List<String> algorithms, String claims,
                        String scopeClaim, String rolesClaim, String agentClaim, Duration clockSkew,
                        Boolean requireAccessTokenType, Duration jwksRefresh, Duration jwksMinRefreshInterval,
                        Boolean allowInsecureHttp, Duration maxTokenLifetime, Boolean multiTenant, List<String> tenants) {
        this(issuer, jwksUri, algorithms, claims, scopeClaim, rolesClaim, agentClaim, clockSkew, requireAccessTokenType,
                jwksRefresh, jwksMinRefreshInterval, allowInsecureHttp, maxTokenLifetime, multiTenant, tenants, null);
    }

    /** Without the multi-tenant options (tests, benchmarks). */
    public IssuerConfig(String issuer, String jwksUri, List<String> algorithms, String claims,
                        String scopeClaim, String rolesClaim, String agentClaim, Duration clockSkew,
                        Boolean requireAccessTokenType, Duration jwksRefresh, Duration jwksMinRefreshInterval,
                        Boolean allowInsecureHttp, Duration maxTokenLifetime) {
        this(issuer, jwksUri, algorithms, claims, scopeClaim, rolesClaim, agentClaim, clockSkew, requireAccessTokenType,
                jwksRefresh, jwksMinRefreshInterval, allowInsecureHttp, maxTokenLifetime, null, null, null, null);
    }

    /** Asymmetric JWS algorithms only: HMAC against a public key and {@code none} can never be configured. */
    public static final Set<String> SUPPORTED_ALGORITHMS = Set.of(
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512");

    public IssuerConfig {
        allowInsecureHttp = allowInsecureHttp != null && allowInsecureHttp;
        multiTenant = multiTenant != null && multiTenant;
        Checks.required("issuer", issuer);
        boolean template = issuer.toLowerCase(Locale.ROOT).contains(TENANT_TEMPLATE);
        if (template && !multiTenant) {
            throw ConfigException.expected("issuer", issuer, "one tenant's issuer, e.g. https://login.microsoftonline.com/"
                    + "<tenant-id>/v2.0: a {tenantid} template matches tokens of every Entra tenant; to accept several "
                    + "tenants set multi-tenant: true (and list them in tenants)");
        }
        if (!template && multiTenant) {
            throw ConfigException.expected("multi-tenant", "true", "only with an issuer template containing {tenantid}");
        }
        if (tenants != null && !multiTenant) {
            throw new ConfigException("tenants", "is set (expected: only with multi-tenant: true)");
        }
        tenants = tenants == null ? List.of() : List.copyOf(tenants);
        for (String tenant : tenants) {
            if (!GUID.matcher(tenant).matches()) {
                throw ConfigException.expected("tenants", tenant, "tenant ids (GUIDs), as in the tokens' tid claim");
            }
        }
        if (template && jwksUri == null) {
            throw new ConfigException("jwks-uri", "is required with a {tenantid} issuer template (expected: e.g. "
                    + "https://login.microsoftonline.com/common/discovery/v2.0/keys; a template has no metadata of its own)");
        }
        String concrete = template ? issuer.replaceAll("(?i)\\{tenantid}", "00000000-0000-0000-0000-000000000000") : issuer;
        Checks.httpUrl("issuer", concrete, allowInsecureHttp);
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
            throw ConfigException.expected("claims", claims, "one of " + ClaimsPreset.names());
        }
        ClaimsPreset preset = ClaimsPreset.valueOf(claims.toUpperCase(Locale.ROOT));
        preset.checkIssuerForm(concrete);
        clockSkew = clockSkew == null ? Duration.ofSeconds(30) : clockSkew;
        if (clockSkew.isNegative() || clockSkew.compareTo(Duration.ofSeconds(60)) > 0) {
            throw ConfigException.expected("clock-skew", DurationText.format(clockSkew), "0s..60s");
        }
        requireAccessTokenType = requireAccessTokenType == null ? preset.requiresAtJwt() : requireAccessTokenType;
        jwksRefresh = jwksRefresh == null ? Duration.ofMinutes(5) : jwksRefresh;
        jwksMinRefreshInterval = jwksMinRefreshInterval == null ? Duration.ofSeconds(30) : jwksMinRefreshInterval;
        maxTokenLifetime = maxTokenLifetime == null ? Duration.ofHours(24) : maxTokenLifetime;
        if (maxTokenLifetime.compareTo(Duration.ofMinutes(1)) < 0) {
            throw ConfigException.expected("max-token-lifetime", DurationText.format(maxTokenLifetime), "at least 1m");
        }
        if (jwksRefresh.compareTo(Duration.ofSeconds(1)) < 0) {
            throw ConfigException.expected("jwks-refresh", DurationText.format(jwksRefresh), "at least 1s");
        }
        dpop = DpopMode.parse("dpop", dpop).text();
        if (introspection != null && template) {
            throw new ConfigException("introspection", "is set on a multi-tenant {tenantid} issuer (expected: introspection "
                    + "on one tenant's issuer)");
        }
    }

    /** {@link #dpop} parsed. */
    public DpopMode dpopMode() {
        return DpopMode.valueOf(dpop.toUpperCase(Locale.ROOT));
    }

    public ClaimsPreset preset() {
        return ClaimsPreset.valueOf(claims.toUpperCase(Locale.ROOT));
    }

    /** Whether {@link #issuer} is a {@code {tenantid}} template (multi-tenant). */
    public boolean isTemplate() {
        return multiTenant;
    }

    /**
     * For a template issuer: the tenant id {@code iss} carries in the template's place, if {@code iss} is the
     * template filled with a GUID that {@link #tenants} admits; otherwise null. Null for a plain issuer.
     */
    public String tenantOf(String iss) {
        if (!multiTenant || iss == null) {
            return null;
        }
        int at = issuer.toLowerCase(Locale.ROOT).indexOf(TENANT_TEMPLATE);
        String prefix = issuer.substring(0, at);
        String suffix = issuer.substring(at + TENANT_TEMPLATE.length());
        if (!iss.startsWith(prefix) || !iss.endsWith(suffix) || iss.length() <= prefix.length() + suffix.length()) {
            return null;
        }
        String tenant = iss.substring(prefix.length(), iss.length() - suffix.length());
        if (!GUID.matcher(tenant).matches()) {
            return null;
        }
        return tenants.isEmpty() || tenants.stream().anyMatch(tenant::equalsIgnoreCase) ? tenant : null;
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
