package dev.portcullis.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Presets carry their IdP's defaults and issuer forms; a {@code {tenantid}} template needs {@code multi-tenant};
 * {@code upstream-auth} may omit {@code token-endpoint} when an issuer's metadata can name it (issue 15).
 */
class IdpOnboardingConfigTest {
    private static final String TID = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    private static IssuerConfig issuer(String issuer, String preset) {
        return new IssuerConfig(issuer, null, null, preset, null, null, null, null, null, null, null, null, null);
    }

    private static ConfigException error(Runnable build) {
        ConfigException e = catchThrowableOfType(ConfigException.class, build::run);
        assertThat(e).as("a config error").isNotNull();
        return e;
    }

    @ParameterizedTest
    @CsvSource({
            "generic,true", "keycloak,false", "entra,false", "okta,false", "auth0,false", "zitadel,false"})
    void requireAccessTokenTypeDefaultsToWhatTheIdpIssues(String preset, boolean atJwt) {
        String iss = switch (preset) {
            case "auth0" -> "https://acme.eu.auth0.com/";
            case "okta" -> "https://acme.okta.com/oauth2/default";
            case "entra" -> "https://login.microsoftonline.com/" + TID + "/v2.0";
            case "keycloak" -> "https://kc.example.com/realms/acme";
            default -> "https://idp.example.com";
        };
        assertThat(issuer(iss, preset).requireAccessTokenType()).isEqualTo(atJwt);
        assertThat(new IssuerConfig(iss, null, null, preset, null, null, null, null, true, null, null, null, null)
                .requireAccessTokenType()).as("an explicit true still demands at+jwt").isTrue();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            // the authority, not the issuer of any token
            "entra|https://login.microsoftonline.com/" + TID + "/|/v2.0",
            "entra|https://login.microsoftonline.com/" + TID + "|/v2.0",
            // v1 issuer without its trailing slash
            "entra|https://sts.windows.net/" + TID + "|trailing",
            // common/organizations are authorities; tokens carry the tenant GUID
            "entra|https://login.microsoftonline.com/common/v2.0|GUID",
            "entra|https://sts.windows.net/organizations/|GUID",
            "auth0|https://acme.eu.auth0.com|trailing",
            "okta|https://acme.okta.com|custom authorization server",
            "okta|https://acme.okta.com/oauth2/default/|custom authorization server",
            "keycloak|https://kc.example.com/realms/acme/|trailing",
            "keycloak|https://kc.example.com/realms/acme/protocol/openid-connect|realm issuer",
            "zitadel|https://acme.zitadel.cloud/|trailing"})
    void wrongIssuerFormsAreRefusedAtLoad(String preset, String iss, String hint) {
        ConfigException e = error(() -> issuer(iss, preset));
        assertThat(e.field()).isEqualTo("issuer");
        assertThat(e.getMessage()).contains(hint);
    }

    @Test
    void rightIssuerFormsLoad() {
        issuer("https://login.microsoftonline.com/" + TID + "/v2.0", "entra");
        issuer("https://sts.windows.net/" + TID + "/", "entra");
        issuer("https://acme.ciamlogin.com/" + TID + "/v2.0", "entra"); // External ID: not judged
        issuer("https://kc.example.com/auth/realms/acme", "keycloak"); // legacy /auth prefix
        issuer("https://acme.okta.com/oauth2/aus1a2b3c", "okta");
        issuer("https://login.acme.com/", "auth0");
        issuer("https://acme.zitadel.cloud", "zitadel");
    }

    @Test
    void tenantTemplateIsRefusedUnlessMultiTenantIsSet() {
        String template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        ConfigException e = error(() -> issuer(template, "entra"));
        assertThat(e.field()).isEqualTo("issuer");
        assertThat(e.getMessage()).contains("every Entra tenant").contains("multi-tenant: true");

        ConfigException noKeys = error(() -> new IssuerConfig(template, null, null, "entra", null, null, null, null, null,
                null, null, null, null, true, null));
        assertThat(noKeys.field()).isEqualTo("jwks-uri");

        IssuerConfig ok = new IssuerConfig(template, "https://login.microsoftonline.com/common/discovery/v2.0/keys", null,
                "entra", null, null, null, null, null, null, null, null, null, true, List.of(TID));
        assertThat(ok.tenantOf("https://login.microsoftonline.com/" + TID + "/v2.0")).isEqualTo(TID);
        assertThat(ok.tenantOf("https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0")).isNull();
        assertThat(ok.tenantOf("https://login.microsoftonline.com/" + TID + "/v2.0/x")).isNull();

        assertThat(error(() -> new IssuerConfig("https://login.microsoftonline.com/" + TID + "/v2.0", null, null, "entra",
                null, null, null, null, null, null, null, null, null, true, null)).field()).isEqualTo("multi-tenant");
        assertThat(error(() -> new IssuerConfig(template, "https://k.example.com/keys", null, "entra", null, null, null,
                null, null, null, null, null, null, true, List.of("contoso.com"))).field()).isEqualTo("tenants");
    }

    // ---- upstream-auth without token-endpoint ----------------------------------------------------------

    private static UpstreamAuthConfig exchange(String tokenEndpoint, String issuer) {
        return new UpstreamAuthConfig("token-exchange", null, tokenEndpoint, "portcullis", null, "s3cret", null, null, null,
                null, "notes", null, List.of(), null, null, null, null, issuer);
    }

    private static RouteConfig route(UpstreamAuthConfig auth) {
        return new RouteConfig("notes", "/mcp", "http://127.0.0.1:3000/mcp", "https://gw.example.com/mcp", null, null,
                null, null, auth, null, null, null, null, null, null, null);
    }

    private static GatewayConfig gateway(List<IssuerConfig> issuers, UpstreamAuthConfig auth) {
        return new GatewayConfig(null, null, issuers, List.of(route(auth)), null, null, null);
    }

    @Test
    void tokenEndpointMayBeOmittedWhenAnIssuerCanNameIt() {
        IssuerConfig kc = issuer("https://kc.example.com/realms/acme", "keycloak");
        IssuerConfig other = issuer("https://other.example.com", "generic");
        GatewayConfig one = gateway(List.of(kc), exchange(null, null));
        assertThat(one.tokenEndpointIssuer(one.routes().get(0))).isSameAs(one.issuers().get(0));
        GatewayConfig named = gateway(List.of(other, kc), exchange(null, kc.issuer()));
        assertThat(named.tokenEndpointIssuer(named.routes().get(0)).issuer()).isEqualTo(kc.issuer());
        GatewayConfig configured = gateway(List.of(other, kc), exchange("https://kc.example.com/token", null));
        assertThat(configured.tokenEndpointIssuer(configured.routes().get(0))).isNull();

        ConfigException ambiguous = error(() -> gateway(List.of(other, kc), exchange(null, null)));
        assertThat(ambiguous.field()).isEqualTo("routes[0].upstream-auth.token-endpoint");
        assertThat(ambiguous.getMessage()).contains("issuer naming");
        ConfigException unknown = error(() -> gateway(List.of(kc), exchange(null, "https://nope.example.com")));
        assertThat(unknown.field()).isEqualTo("routes[0].upstream-auth.issuer");
        ConfigException both = error(() -> exchange("https://kc.example.com/token", kc.issuer()));
        assertThat(both.field()).isEqualTo("issuer");
    }

    @Test
    void discoveredClientAuthIsTheFirstSecretMethodTheIdpLists() {
        UpstreamAuthConfig auto = exchange(null, null);
        assertThat(auto.clientAuthFor(List.of("private_key_jwt", "client_secret_post")))
                .isEqualTo(UpstreamAuthConfig.ClientAuth.CLIENT_SECRET_POST);
        assertThat(auto.clientAuthFor(List.of("client_secret_post", "client_secret_basic")))
                .isEqualTo(UpstreamAuthConfig.ClientAuth.CLIENT_SECRET_BASIC);
        assertThat(auto.clientAuthFor(List.of("private_key_jwt"))).isNull();
    }
}
