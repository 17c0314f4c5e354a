package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.http.OutboundHttp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Tokens shaped as each IdP really issues them ({@code typ: JWT} or no {@code typ}, the IdP's own claim names),
 * against the presets: the access token is accepted, an ID token of the same issuer with a client-id audience is
 * refused (AUTHN-09), and Entra multi-tenant templates admit only the tenant the token names in {@code tid}.
 */
class IdpPresetTokensTest {
    private static final String CLIENT_ID_AUDIENCE = "portcullis";
    private static final Set<String> AUDIENCES = Set.of(LocalIssuer.RESOURCE, CLIENT_ID_AUDIENCE);
    private static final String TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    private static final String OTHER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad";

    private LocalIssuer idp;
    private OutboundHttp http;

    @BeforeEach
    void start() throws Exception {
        idp = new LocalIssuer();
        http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(2));
    }

    @AfterEach
    void stop() {
        idp.close();
        http.close();
    }

    private TokenVerifier verifier(IssuerConfig config) {
        return new TokenVerifier(List.of(new JwksCache(config, http, new ObjectMapper(), Ticker.systemTicker())),
                Clock.systemUTC(), Ticker.systemTicker(), 100);
    }

    /** The issuer the tokens name: Auth0's carries a trailing slash. */
    private String iss;

    private IssuerConfig preset(String preset) {
        iss = preset.equals("auth0") ? idp.issuer() + "/" : idp.issuer();
        return new IssuerConfig(iss, idp.jwksUri(), List.of("RS256"), preset, null, null, null,
                null, null, null, null, false, null);
    }

    /** Signed with header {@code typ} (null: none), as the IdPs here do. */
    private String token(String typ, Map<String, Object> claims) throws Exception {
        Instant now = Instant.now();
        JWTClaimsSet.Builder b = new JWTClaimsSet.Builder().issuer(iss).subject("user-1")
                .audience(List.of(CLIENT_ID_AUDIENCE)).issueTime(Date.from(now))
                .expirationTime(Date.from(now.plusSeconds(300)));
        claims.forEach(b::claim);
        JWSHeader.Builder header = new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(idp.rsa.getKeyID());
        if (typ != null) {
            header.type(new JOSEObjectType(typ));
        }
        SignedJWT jwt = new SignedJWT(header.build(), b.build());
        jwt.sign(new RSASSASigner(idp.rsa));
        return jwt.serialize();
    }

    private static Principal verify(TokenVerifier verifier, String token) {
        return verifier.verify(new BearerToken(token), AUDIENCES).block(Duration.ofSeconds(5));
    }

    private static void assertNotAnAccessToken(TokenVerifier verifier, String token) {
        assertThatThrownBy(() -> verify(verifier, token)).isInstanceOfSatisfying(GatewayFailure.class, f -> {
            assertThat(f.reason()).isEqualTo(Reason.INVALID_TOKEN);
            assertThat(f.description()).isEqualTo("The token is not an access token");
        });
    }

    @Test
    void keycloakPresetAcceptsTypJwtAccessTokensWithoutDemandingAtJwt() throws Exception {
        IssuerConfig config = preset("keycloak");
        assertThat(config.requireAccessTokenType()).as("Keycloak issues typ: JWT").isFalse();
        TokenVerifier verifier = verifier(config);
        Principal p = verify(verifier, token("JWT", Map.of("typ", "Bearer", "azp", "agent-kc", "scope", "openid notes:read",
                "realm_access", Map.of("roles", List.of("admin"))))); // Keycloak 26 shape (KeycloakTest decodes a real one)
        assertThat(p.agent()).isEqualTo("agent-kc");
        assertThat(p.scopes()).contains("notes:read");
        assertThat(p.roles()).containsExactly("admin");
    }

    /**
     * Issue 16: Keycloak 26's DPoP-bound access token has claim typ: DPoP and cnf.jkt (KeycloakDpopTest gets a real one);
     * typ: DPoP without a cnf is no access token of Keycloak's.
     */
    @Test
    void keycloakDpopBoundAccessTokenIsAnAccessToken() throws Exception {
        TokenVerifier verifier = verifier(preset("keycloak"));
        Principal p = verify(verifier, token("JWT", Map.of("typ", "DPoP", "azp", "agent-kc", "scope", "notes:read",
                "cnf", Map.of("jkt", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", "kc-jkt-type", "DPoP"))));
        assertThat(p.agent()).isEqualTo("agent-kc");
        assertNotAnAccessToken(verifier, token("JWT", Map.of("typ", "DPoP", "azp", "agent-kc")));
    }

    /** AUTHN-09: a Keycloak ID token (claim typ: ID) has aud = the client id, which is a resource alias here. */
    @Test
    void keycloakIdTokenWithClientIdAudienceIsRefused() throws Exception {
        TokenVerifier verifier = verifier(preset("keycloak"));
        assertNotAnAccessToken(verifier, token("JWT", Map.of("typ", "ID", "azp", CLIENT_ID_AUDIENCE)));
        assertNotAnAccessToken(verifier, token("JWT", Map.of("typ", "Refresh", "azp", CLIENT_ID_AUDIENCE)));
    }

    @Test
    void entraPresetNeedsAzpOrAppidSoIdTokensAreRefused() throws Exception {
        TokenVerifier verifier = verifier(preset("entra"));
        // v2 access token: azp, scp string, roles
        Principal v2 = verify(verifier, token("JWT", Map.of("azp", "11111111-2222-3333-4444-555555555555",
                "scp", "Notes.Read Notes.Write", "roles", List.of("Admin"), "ver", "2.0")));
        assertThat(v2.scopes()).containsExactlyInAnyOrder("Notes.Read", "Notes.Write");
        assertThat(v2.agent()).isEqualTo("11111111-2222-3333-4444-555555555555");
        // v1 access token: appid
        assertThat(verify(verifier, token("JWT", Map.of("appid", "app-v1", "scp", "user_impersonation", "ver", "1.0")))
                .agent()).isEqualTo("app-v1");
        // v2 ID token: neither azp nor appid
        assertNotAnAccessToken(verifier, token("JWT", Map.of("ver", "2.0", "nonce", "n", "tid", TENANT)));
    }

    @Test
    void oktaPresetTakesCidAndScpArrayAndNeedsCid() throws Exception {
        TokenVerifier verifier = verifier(preset("okta"));
        Principal p = verify(verifier, token(null, Map.of("cid", "0oa1", "scp", List.of("notes:read"), "ver", 1)));
        assertThat(p.agent()).isEqualTo("0oa1");
        assertThat(p.scopes()).containsExactly("notes:read");
        assertNotAnAccessToken(verifier, token(null, Map.of("ver", 1, "amr", List.of("pwd"))));
    }

    @Test
    void auth0PresetAcceptsBothTokenProfiles() throws Exception {
        TokenVerifier verifier = verifier(preset("auth0"));
        assertThat(verify(verifier, token("JWT", Map.of("azp", "auth0-agent", "scope", "read:notes",
                "permissions", List.of("delete:notes")))).roles()).containsExactly("delete:notes");
        // RFC 9068 profile: at+jwt and client_id (jti required then, as for every at+jwt)
        assertThat(verify(verifier, token("at+jwt", Map.of("client_id", "auth0-agent", "scope", "read:notes",
                "jti", UUID.randomUUID().toString()))).agent()).isEqualTo("auth0-agent");
        assertNotAnAccessToken(verifier, token("JWT", Map.of("nickname", "x")));
    }

    @Test
    void zitadelPresetReadsRolesFromTheProjectRolesObject() throws Exception {
        TokenVerifier verifier = verifier(preset("zitadel"));
        Principal p = verify(verifier, token("JWT", Map.of("client_id", "svc-agent",
                "urn:zitadel:iam:org:project:roles", Map.of("notes-admin", Map.of("3443", "acme.zitadel.cloud"),
                        "notes-reader", Map.of("3443", "acme.zitadel.cloud")))));
        assertThat(p.agent()).isEqualTo("svc-agent");
        assertThat(p.roles()).containsExactlyInAnyOrder("notes-admin", "notes-reader");
        assertNotAnAccessToken(verifier, token("JWT", Map.of("azp", "svc-agent")));
    }

    @Test
    void genericPresetStillDemandsAtJwt() throws Exception {
        IssuerConfig config = preset("generic");
        assertThat(config.requireAccessTokenType()).isTrue();
        assertNotAnAccessToken(verifier(config), token("JWT", Map.of("client_id", "a", "jti", "j")));
    }

    // ---- Entra multi-tenant: iss from a {tenantid} template, tid must agree ----------------------------

    private IssuerConfig multiTenant(List<String> tenants) {
        return new IssuerConfig(idp.issuer() + "/{tenantid}/v2.0", idp.jwksUri(), List.of("RS256"), "entra", null, null,
                null, null, null, null, null, false, null, true, tenants);
    }

    private String entraToken(String issTenant, String tid) throws Exception {
        Instant now = Instant.now();
        JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer(idp.issuer() + "/" + issTenant + "/v2.0").subject("u")
                .audience(CLIENT_ID_AUDIENCE).issueTime(Date.from(now)).expirationTime(Date.from(now.plusSeconds(300)))
                .claim("azp", "client").claim("tid", tid).build();
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(idp.rsa.getKeyID())
                .type(JOSEObjectType.JWT).build(), claims);
        jwt.sign(new RSASSASigner(idp.rsa));
        return jwt.serialize();
    }

    @Test
    void multiTenantTemplateAdmitsListedTenantsWhoseTidAgrees() throws Exception {
        TokenVerifier verifier = verifier(multiTenant(List.of(TENANT)));
        assertThat(verify(verifier, entraToken(TENANT, TENANT)).issuer()).isEqualTo(idp.issuer() + "/" + TENANT + "/v2.0");
        // a tenant not listed, a tid that disagrees with iss, something that is not a GUID
        for (String token : List.of(entraToken(OTHER_TENANT, OTHER_TENANT), entraToken(TENANT, OTHER_TENANT),
                entraToken("common", "common"))) {
            assertThatThrownBy(() -> verify(verifier, token)).isInstanceOfSatisfying(GatewayFailure.class,
                    f -> assertThat(f.description()).isEqualTo("The access token was not issued by a trusted issuer"));
        }
        // without a tenant list any tenant is admitted, still only with its own tid
        TokenVerifier any = verifier(multiTenant(null));
        assertThat(verify(any, entraToken(OTHER_TENANT, OTHER_TENANT)).subject()).isEqualTo("u");
        assertThatThrownBy(() -> verify(any, entraToken(OTHER_TENANT, TENANT))).isInstanceOf(GatewayFailure.class);
    }
}
