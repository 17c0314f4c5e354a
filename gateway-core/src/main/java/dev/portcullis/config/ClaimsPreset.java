package dev.portcullis.config;

import java.util.List;

/**
 * Where common identity providers put the agent, scopes and roles in their access tokens.
 * Each claim path is a dot-separated path into the claims ({@code realm_access.roles}).
 */
public enum ClaimsPreset {
    /** RFC 9068 / RFC 8693 names: {@code client_id}, space-delimited {@code scope}, {@code roles}. */
    GENERIC(List.of("client_id", "azp"), "scope", "roles"),
    /** Keycloak: {@code azp}, {@code scope}, realm roles in {@code realm_access.roles}. */
    KEYCLOAK(List.of("azp", "client_id"), "scope", "realm_access.roles"),
    /** Microsoft Entra ID v2 tokens: {@code azp}/{@code appid}, {@code scp} (space-delimited), {@code roles}. */
    ENTRA(List.of("azp", "appid"), "scp", "roles"),
    /** Okta: {@code cid}, {@code scp} (array), {@code groups}. */
    OKTA(List.of("cid", "client_id"), "scp", "groups"),
    /** Auth0: {@code azp}, {@code scope}, RBAC {@code permissions}. */
    AUTH0(List.of("azp", "client_id"), "scope", "permissions");

    private final List<String> agentClaims;
    private final String scopeClaim;
    private final String rolesClaim;

    ClaimsPreset(List<String> agentClaims, String scopeClaim, String rolesClaim) {
        this.agentClaims = agentClaims;
        this.scopeClaim = scopeClaim;
        this.rolesClaim = rolesClaim;
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
}
