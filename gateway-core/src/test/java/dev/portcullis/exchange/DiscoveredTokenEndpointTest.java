package dev.portcullis.exchange;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Ticker;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.portcullis.FakeTime;
import dev.portcullis.authn.JwksCache;
import dev.portcullis.config.IssuerConfig;
import dev.portcullis.config.UpstreamAuthConfig;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import dev.portcullis.http.OutboundHttp;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code upstream-auth} without {@code token-endpoint}: the endpoint and the client authentication method come
 * from the issuer's discovered metadata (issue 15), with the SSRF rules of JWKS discovery (SECURITY-03).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DiscoveredTokenEndpointTest {
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final String SUBJECT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJlLXN1YmplY3Q";
    private static final String OK = "{\"access_token\":\"issued.token.value\",\"issued_token_type\":"
            + "\"urn:ietf:params:oauth:token-type:access_token\",\"token_type\":\"Bearer\",\"expires_in\":300}";

    private final FakeTime time = new FakeTime();
    private final ObjectMapper json = new ObjectMapper();
    private WireMockServer idp;
    private OutboundHttp http;

    @BeforeAll
    void start() {
        idp = new WireMockServer(options().bindAddress("127.0.0.1").dynamicPort());
        idp.start();
        http = new OutboundHttp(Duration.ofSeconds(2), Duration.ofSeconds(5));
    }

    @AfterAll
    void stop() {
        http.close();
        idp.stop();
    }

    @BeforeEach
    void reset() {
        idp.resetAll();
    }

    private String issuer() {
        return "http://127.0.0.1:" + idp.port() + "/realms/acme";
    }

    /** Served at the path-appended OpenID URL only; the RFC 8414 URLs answer 404, as Keycloak's older layouts do. */
    private void metadata(String tokenEndpoint, String methods) {
        idp.stubFor(get(urlMatching("/\\.well-known/.*")).willReturn(aResponse().withStatus(404)));
        idp.stubFor(get("/realms/acme/.well-known/openid-configuration").willReturn(okJson("{\"issuer\":\"" + issuer()
                + "\",\"jwks_uri\":\"" + issuer() + "/certs\",\"token_endpoint\":\"" + tokenEndpoint + "\""
                + (methods == null ? "" : ",\"token_endpoint_auth_methods_supported\":" + methods) + "}")));
    }

    private TokenEndpointClient client() {
        IssuerConfig issuer = new IssuerConfig(issuer(), null, null, "keycloak", null, null, null, null, null, null, null,
                null, null);
        JwksCache keys = new JwksCache(issuer, http, json, Ticker.systemTicker());
        UpstreamAuthConfig config = new UpstreamAuthConfig("token-exchange", null, null, "portcullis", null, "s3cret", null,
                null, null, null, "notes", null, List.of(), null, Duration.ofMillis(800), null, null, null);
        return TokenEndpointClient.discovered(issuer.issuer(), keys::metadata, config, http, json, time);
    }

    private static GrantRequest exchange() {
        return GrantRequest.tokenExchange(SUBJECT, "notes", null, null, null);
    }

    private LoggedRequest onlyTokenRequest(String path) {
        List<LoggedRequest> requests = idp.findAll(postRequestedFor(urlEqualTo(path)));
        assertThat(requests).hasSize(1);
        return requests.get(0);
    }

    @Test
    void tokenEndpointAndClientSecretBasicComeFromTheMetadata() {
        String endpoint = issuer() + "/protocol/openid-connect/token";
        metadata(endpoint, "[\"private_key_jwt\",\"client_secret_basic\",\"client_secret_post\"]");
        idp.stubFor(post("/realms/acme/protocol/openid-connect/token").willReturn(okJson(OK)));
        TokenEndpointClient client = client();
        assertThat(client.request(exchange()).block(WAIT).value()).isEqualTo("issued.token.value");
        assertThat(onlyTokenRequest("/realms/acme/protocol/openid-connect/token").getHeader("Authorization")).startsWith("Basic ");
        // discovered once, kept
        client.request(GrantRequest.tokenExchange(SUBJECT, "notes", null, "x", null)).block(WAIT);
        assertThat(idp.findAll(getRequestedFor(urlEqualTo("/realms/acme/.well-known/openid-configuration")))).hasSize(1);
    }

    @Test
    void onlyClientSecretPostListedMeansTheSecretGoesInTheBody() {
        metadata(issuer() + "/token", "[\"client_secret_post\"]");
        idp.stubFor(post("/realms/acme/token").willReturn(okJson(OK)));
        client().request(exchange()).block(WAIT);
        LoggedRequest sent = onlyTokenRequest("/realms/acme/token");
        assertThat(sent.getHeader("Authorization")).isNull();
        assertThat(sent.getBodyAsString()).contains("client_id=portcullis").contains("client_secret=s3cret");
    }

    @Test
    void withoutAuthMethodsTheRfc8414DefaultBasicIsUsed() {
        metadata(issuer() + "/token", null);
        idp.stubFor(post("/realms/acme/token").willReturn(okJson(OK)));
        client().request(exchange()).block(WAIT);
        assertThat(onlyTokenRequest("/realms/acme/token").getHeader("Authorization")).startsWith("Basic ");
    }

    @Test
    void noSecretMethodListedIsTheGatewaysProblemNotTheCallers() {
        metadata(issuer() + "/token", "[\"private_key_jwt\",\"tls_client_auth\"]");
        GatewayFailure failure = catchThrowableOfType(GatewayFailure.class, () -> client().request(exchange()).block(WAIT));
        assertThat(failure.reason()).isEqualTo(Reason.EXCHANGE_CLIENT_REJECTED);
        assertThat(idp.findAll(postRequestedFor(urlMatching(".*")))).isEmpty();
    }

    /** SECURITY-03: a discovered URL with user info (or not http(s)) is refused like a discovered jwks_uri. */
    @Test
    void security03UnacceptableDiscoveredEndpointIsRefusedAndNothingIsSent() {
        for (String bad : List.of("http://user:pw@127.0.0.1:" + idp.port() + "/realms/acme/token", "ftp://127.0.0.1/token",
                "/realms/acme/token")) {
            idp.resetAll();
            metadata(bad, null);
            GatewayFailure failure = catchThrowableOfType(GatewayFailure.class, () -> client().request(exchange()).block(WAIT));
            assertThat(failure.reason()).as(bad).isEqualTo(Reason.EXCHANGE_INVALID_RESPONSE);
            assertThat(idp.findAll(postRequestedFor(urlMatching(".*")))).as(bad).isEmpty();
        }
    }

    @Test
    void metadataUnavailableIs503AndTheNextRequestDiscoversAgain() {
        idp.stubFor(get(urlMatching(".*")).willReturn(aResponse().withStatus(503)));
        TokenEndpointClient client = client();
        GatewayFailure failure = catchThrowableOfType(GatewayFailure.class, () -> client.request(exchange()).block(WAIT));
        assertThat(failure.reason()).isEqualTo(Reason.EXCHANGE_UNAVAILABLE);

        idp.resetAll();
        metadata(issuer() + "/token", null);
        idp.stubFor(post("/realms/acme/token").willReturn(okJson(OK)));
        assertThat(client.request(exchange()).block(WAIT).value()).isEqualTo("issued.token.value");
    }

    @Test
    void aDocumentForAnotherIssuerIsNotTrusted() {
        idp.stubFor(get(urlMatching(".*")).willReturn(okJson("{\"issuer\":\"https://evil.example.com\","
                + "\"token_endpoint\":\"http://127.0.0.1:" + idp.port() + "/steal\"}")));
        GatewayFailure failure = catchThrowableOfType(GatewayFailure.class, () -> client().request(exchange()).block(WAIT));
        assertThat(failure.reason()).isEqualTo(Reason.EXCHANGE_UNAVAILABLE);
        assertThat(idp.findAll(postRequestedFor(urlMatching(".*")))).isEmpty();
    }
}
