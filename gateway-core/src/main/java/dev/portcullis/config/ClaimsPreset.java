package dev.portcullis.config;

import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * What a common identity provider's access tokens look like: where the agent, scopes and roles are,
 * which header {@code typ} it issues, how an access token is told apart from an ID token of the same
 * issuer, and which issuer forms are right. Each claim path is a dot-separated path into the claims
 * ({@code realm_access.roles}).
 *
 * <p>Sources (checked 2026-12): Keycloak 26.7 tokens as issued by a real server (TEST-PEERS.md,
 * KeycloakTest); Microsoft identity platform "Access token claims reference" and "ID token claims
 * reference" (learn.microsoft.com); Okta "Validate access tokens" / "Token reference"
 * (developer.okta.com); Auth0 "Access Token Profiles" and "Access Token Claims" (auth0.com/docs);
 * ZITADEL "Claims" matrix (zitadel.com/docs/apis/openidoauth/claims).
 *
 * <p>Why an access-token marker: only RFC 9068 tokens say {@code typ: at+jwt}; the IdPs here issue
 * {@code typ: JWT} (or no {@code typ}). An ID token of the same issuer is also a signed JWT whose
 * {@code aud} is a client id, and the client-id audiences these IdPs use are exactly what operators list
 * as {@code resource-aliases}. Without {@code at+jwt} a token must therefore show the claim only that
 * IdP's access tokens carry (AUTHN-09).
 */
public enum ClaimsPreset {
    /**
     * RFC 9068 / RFC 8693 names: {@code client_id}, space-delimited {@code scope}, {@code roles}. Demands
     * {@code typ: at+jwt} with {@code client_id}, {@code iat} and {@code jti} by default.
     */
    GENERIC(List.of("client_id", "azp"), "scope", "roles", true, null, null),
    /**
     * Keycloak: header {@code typ: JWT}; the claim {@code typ} is {@code Bearer} in access tokens ({@code DPoP} in
     * DPoP-bound ones, which carry {@code cnf.jkt}; {@code ID}
     * in ID tokens, {@code Refresh} in refresh tokens). Agent {@code azp}, {@code scope} string, realm roles
     * in {@code realm_access.roles}. {@code aud} holds client ids (an Audience mapper adds a client id or any
     * custom string such as the resource URL). Issuer {@code https://host/realms/<realm>}.
     */
    KEYCLOAK(List.of("azp", "client_id"), "scope", "realm_access.roles", false,
            // A DPoP-bound access token (issue 16) has claim typ: DPoP and a cnf; it is never a bearer token.
            claims -> "Bearer".equals(claims.get("typ")) || ("DPoP".equals(claims.get("typ")) && claims.get("cnf") != null),
            "claim typ: Bearer, or DPoP with cnf (Keycloak access token)"),
    /**
     * Microsoft Entra ID: header {@code typ: JWT}; agent {@code azp} (v2) or {@code appid} (v1), delegated
     * scopes in {@code scp} (space-delimited), app roles in {@code roles}; no {@code client_id} or {@code jti}
     * ({@code uti} instead). {@code aud}: v2 tokens carry the API's application (client) id, a GUID; v1 tokens
     * its Application ID URI ({@code api://...}). Issuers: v1 {@code https://sts.windows.net/<tenant-id>/},
     * v2 {@code https://login.microsoftonline.com/<tenant-id>/v2.0}. ID tokens carry neither {@code azp} nor
     * {@code appid}.
     */
    ENTRA(List.of("azp", "appid"), "scp", "roles", false,
            claims -> claims.get("azp") instanceof String || claims.get("appid") instanceof String,
            "claim azp (v2) or appid (v1) (Entra access token)"),
    /**
     * Okta (custom authorization server): no header {@code typ}; agent {@code cid}, {@code scp} array,
     * {@code groups} only if a groups claim is configured. {@code aud} defaults to {@code api://default}.
     * Issuer {@code https://<domain>/oauth2/<server-id>}: tokens of the org authorization server
     * ({@code https://<domain>}) are for Okta's own APIs and cannot be validated by others. ID tokens have no
     * {@code cid}.
     */
    OKTA(List.of("cid", "client_id"), "scp", "groups", false,
            claims -> claims.get("cid") instanceof String, "claim cid (Okta access token)"),
    /**
     * Auth0: header {@code typ: JWT} with the default "Auth0" token profile ({@code at+jwt} and
     * {@code client_id} with the "RFC 9068" profile, which is accepted too). Agent {@code azp}
     * ({@code client_id} in RFC 9068 profile), {@code scope} string, RBAC {@code permissions}. {@code aud} is
     * the API identifier (any string, often a URL). Issuer {@code https://<tenant>.auth0.com/} <em>with</em>
     * the trailing slash (also on custom domains).
     */
    AUTH0(List.of("azp", "client_id"), "scope", "permissions", false,
            claims -> claims.get("azp") instanceof String || claims.get("client_id") instanceof String,
            "claim azp or client_id (Auth0 access token)"),
    /**
     * ZITADEL (application token type "JWT"; the default is opaque, which this gateway cannot validate):
     * agent {@code client_id}, roles in {@code urn:zitadel:iam:org:project:roles} (an object keyed by role;
     * its keys are the roles); access tokens carry no {@code scope} claim, so policies use roles. {@code aud}
     * holds the project id and client ids. Issuer {@code https://<instance>} without trailing slash.
     */
    ZITADEL(List.of("client_id", "azp"), "scope", "urn:zitadel:iam:org:project:roles", false,
            claims -> claims.get("client_id") instanceof String, "claim client_id (ZITADEL access token)");

    private final List<String> agentClaims;
    private final String scopeClaim;
    private final String rolesClaim;
    private final boolean requiresAtJwt;
    private final Predicate<Map<String, Object>> accessTokenMarker;
    private final String markerDescription;

    ClaimsPreset(List<String> agentClaims, String scopeClaim, String rolesClaim, boolean requiresAtJwt,
                 Predicate<Map<String, Object>> accessTokenMarker, String markerDescription) {
        this.agentClaims = agentClaims;
        this.scopeClaim = scopeClaim;
        this.rolesClaim = rolesClaim;
        this.requiresAtJwt = requiresAtJwt;
        this.accessTokenMarker = accessTokenMarker;
        this.markerDescription = markerDescription;
    }

    /** The preset names as written in {@code claims:}. */
    public static String names() {
        return "generic, keycloak, entra, okta, auth0, zitadel";
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public List<String> agentClaims() {
        return agentClaims;
    }

    public String scopeClaim() {
        return scopeClaim;
    }

    public String rolesClaim() {
        return rolesClaim;
    }

    /** The default of {@code require-access-token-type}: whether this IdP issues {@code typ: at+jwt}. */
    public boolean requiresAtJwt() {
        return requiresAtJwt;
    }

    /**
     * Whether claims (of a token without {@code typ: at+jwt}) are an access token of this IdP rather than an
     * ID or refresh token; always true for {@link #GENERIC}, which has no marker.
     */
    public boolean looksLikeAccessToken(Map<String, Object> claims) {
        return accessTokenMarker == null || accessTokenMarker.test(claims);
    }

    /** For log lines: what {@link #looksLikeAccessToken} looks for. */
    public String accessTokenMarker() {
        return markerDescription == null ? "typ: at+jwt" : markerDescription;
    }

    private static final Pattern GUID = Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    private static final Pattern ENTRA_V2 = Pattern.compile("https://login\\.(microsoftonline\\.com|microsoftonline\\.us|partner\\.microsoftonline\\.cn|chinacloudapi\\.cn)/([^/]+)/v2\\.0");
    private static final Pattern ENTRA_V1 = Pattern.compile("https://sts\\.(windows\\.net|chinacloudapi\\.cn)/([^/]+)/");

    /**
     * Checks the issuer against the forms this IdP really uses; the common mistakes (an authority URL
     * where the issuer belongs, a missing or extra trailing slash) are refused at load, since with an exact
     * {@code iss} comparison (AUTHN-06) they would refuse every token at run time.
     *
     * @param issuer the configured issuer, with any {@code {tenantid}} template already replaced
     * @throws ConfigException naming the field {@code issuer}
     */
    void checkIssuerForm(String issuer) {
        URI uri = URI.create(issuer);
        String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        switch (this) {
            case KEYCLOAK -> {
                if (path.endsWith("/") || (path.contains("/realms/") && !path.matches("(/[^/]+)*/realms/[^/]+"))) {
                    throw ConfigException.expected("issuer", issuer, "a Keycloak realm issuer https://<host>/realms/<realm>"
                            + " (no trailing \"/\"; the exact iss of the realm's tokens)");
                }
            }
            case ENTRA -> {
                boolean login = host.equals("login.microsoftonline.com") || host.equals("login.microsoftonline.us")
                        || host.equals("login.partner.microsoftonline.cn") || host.equals("login.chinacloudapi.cn");
                boolean sts = host.equals("sts.windows.net") || host.equals("sts.chinacloudapi.cn");
                if (login && !ENTRA_V2.matcher(issuer).matches()) {
                    throw ConfigException.expected("issuer", issuer, "an Entra issuer: v2 https://login.microsoftonline.com/"
                            + "<tenant-id>/v2.0, or v1 https://sts.windows.net/<tenant-id>/ (login.microsoftonline.com/<tenant-id>"
                            + " without /v2.0 is the authority, not the iss of any token)");
                }
                if (sts && !ENTRA_V1.matcher(issuer).matches()) {
                    throw ConfigException.expected("issuer", issuer, "an Entra v1 issuer https://sts.windows.net/<tenant-id>/"
                            + " (with the trailing \"/\")");
                }
                java.util.regex.Matcher v2 = ENTRA_V2.matcher(issuer);
                java.util.regex.Matcher v1 = ENTRA_V1.matcher(issuer);
                String tenant = login && v2.matches() ? v2.group(2) : sts && v1.matches() ? v1.group(2) : null;
                if (tenant != null && !GUID.matcher(tenant).matches()) {
                    throw ConfigException.expected("issuer", issuer, "the tenant id (a GUID) in the issuer: common, organizations,"
                            + " consumers and domain names are authorities, tokens carry the tenant's GUID");
                }
            }
            case OKTA -> {
                if ((host.endsWith(".okta.com") || host.endsWith(".oktapreview.com") || host.endsWith(".okta-emea.com"))
                        && !path.matches("/oauth2/[^/]+")) {
                    throw ConfigException.expected("issuer", issuer, "an Okta custom authorization server https://<domain>/oauth2/"
                            + "<server-id> such as /oauth2/default (org authorization server tokens are for Okta's own APIs"
                            + " and cannot be validated by a resource server); no trailing \"/\"");
                }
            }
            case AUTH0 -> {
                if (!path.endsWith("/")) {
                    throw ConfigException.expected("issuer", issuer, "an Auth0 issuer with its trailing \"/\" (https://<tenant>"
                            + ".auth0.com/): Auth0 tokens carry iss with the slash");
                }
            }
            case ZITADEL -> {
                if (path.endsWith("/")) {
                    throw ConfigException.expected("issuer", issuer, "a ZITADEL issuer without trailing \"/\" (https://<instance>)");
                }
            }
            case GENERIC -> {
                // any https URL (checked by IssuerConfig)
            }
        }
    }
}
