package dev.portcullis.app;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.testing.McpClients;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.spec.McpSchema;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Date;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Enterprise-managed authorization (issue 16, {@code upstream-auth} flavor {@code id-jag}): the gateway exchanges the
 * caller's token at the enterprise IdP for an Identity Assertion JWT Authorization Grant (RFC 8693,
 * {@code requested_token_type} id-jag, {@code audience} = the upstream's authorization server) and redeems it there
 * with the JWT bearer grant (RFC 7523) for the upstream's access token. The enterprise IdP is WireMock (no real IdP
 * here issues ID-JAGs); the upstream's authorization server is a real one (mock-oauth2-server's jwt-bearer grant).
 */
class IdJagTest {
    private static final String ID_JAG = "urn:ietf:params:oauth:token-type:id-jag";
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().idp(TestIdp::startWithTokenExchange).noGateway().build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private WireMockServer enterprise;

    @BeforeEach
    void start() {
        enterprise = new WireMockServer(options().bindAddress("127.0.0.1").dynamicPort());
        enterprise.start();
    }

    @AfterEach
    void stop() {
        enterprise.stop();
    }

    /** An ID-JAG as an enterprise IdP would sign it: for the user, addressed to the upstream's authorization server. */
    private String idJag(String subject) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).type(new com.nimbusds.jose.JOSEObjectType("oauth-id-jag+jwt")).build(),
                new JWTClaimsSet.Builder().issuer("https://enterprise.example").subject(subject).audience(idp.issuer())
                        .claim("client_id", "portcullis").issueTime(new Date())
                        .expirationTime(new Date(System.currentTimeMillis() + 300_000)).jwtID("jag-1").build());
        jwt.sign(new RSASSASigner(new RSAKeyGenerator(2048).generate()));
        return jwt.serialize();
    }

    private GatewayHarness gateway(String authorizationServerClient) {
        String yaml = """
                upstream-auth:
                  type: token-exchange
                  flavor: id-jag
                  token-endpoint: http://127.0.0.1:%d/oauth2/token
                  client-id: portcullis
                  client-secret: enterprise-secret
                  audience: %s
                  resource: https://mcp.saas.example/mcp
                  scopes: [todo:read]
                  authorization-server:
                    token-endpoint: %s
                    client-id: %s
                    client-secret: saas-secret
                """.formatted(enterprise.port(), idp.issuer(), idp.tokenEndpoint(), authorizationServerClient);
        return GatewayHarness.start(idp.issuer(), upstream.url(), yaml, null);
    }

    private static String tokenSeenUpstream(GatewayHarness gw, String callerToken) {
        try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", callerToken)) {
            client.initialize();
            return McpClients.text(client.callTool(new McpSchema.CallToolRequest("whoami", Map.of())));
        }
    }

    @Test
    void theCallerTokenBecomesAnIdJagAndTheUpstreamGetsItsOwnAuthorizationServersToken() throws Exception {
        String grant = idJag("user-1");
        enterprise.stubFor(post("/oauth2/token").withRequestBody(containing("requested_token_type=" + URLEncoder.encode(ID_JAG,
                StandardCharsets.UTF_8))).willReturn(okJson("{\"issued_token_type\":\"" + ID_JAG + "\",\"access_token\":\""
                + grant + "\",\"token_type\":\"N_A\",\"expires_in\":300}")));
        String caller = idp.accessToken(RESOURCE, "mcp:tools");
        try (GatewayHarness gw = gateway("portcullis-at-saas")) {
            String seen = tokenSeenUpstream(gw, caller);
            assertThat(seen).startsWith("Bearer ");
            String upstreamToken = seen.substring("Bearer ".length());
            assertThat(upstreamToken).isNotEqualTo(caller).isNotEqualTo(grant);
            // The upstream's authorization server issued it, from the grant (its subject is the grant's).
            JWTClaimsSet claims = SignedJWT.parse(upstreamToken).getJWTClaimsSet();
            assertThat(claims.getIssuer()).isEqualTo(idp.issuer());
            assertThat(claims.getSubject()).isEqualTo("user-1");

            // Step 1 went to the enterprise IdP with the caller's token, addressed to the upstream's authorization server.
            enterprise.verify(1, postRequestedFor(urlEqualTo("/oauth2/token"))
                    .withRequestBody(containing("grant_type=" + URLEncoder.encode("urn:ietf:params:oauth:grant-type:token-exchange", StandardCharsets.UTF_8)))
                    .withRequestBody(containing("subject_token=" + caller))
                    .withRequestBody(containing("audience=" + URLEncoder.encode(idp.issuer(), StandardCharsets.UTF_8))));
            // Cached like exchanged tokens: a second call in a new session asks nobody.
            assertThat(tokenSeenUpstream(gw, caller)).isEqualTo(seen);
            enterprise.verify(1, postRequestedFor(urlEqualTo("/oauth2/token")));
        }
    }

    @Test
    void anAnswerThatIsNoIdJagFailsClosed() {
        // An IdP that ignores requested_token_type and answers with an access token: never used upstream.
        enterprise.stubFor(post("/oauth2/token").willReturn(okJson("{\"issued_token_type\":"
                + "\"urn:ietf:params:oauth:token-type:access_token\",\"access_token\":\"abc.def.ghi\",\"token_type\":\"Bearer\","
                + "\"expires_in\":300}")));
        String caller = idp.accessToken(RESOURCE, "mcp:tools");
        upstream.clearRequests();
        try (GatewayHarness gw = gateway("portcullis-at-saas")) {
            var response = gw.send(gw.post(GatewayHarness.toolCall(1, "whoami")).header("Authorization", "Bearer " + caller).build());
            assertThat(response.statusCode()).isBetween(500, 599);
            assertThat(upstream.requests()).isEmpty();
        }
    }

    @Test
    void anEnterpriseIdpRefusalNeverReachesTheUpstream() {
        enterprise.stubFor(post("/oauth2/token").willReturn(aResponse().withStatus(400).withHeader("Content-Type", "application/json")
                .withBody("{\"error\":\"invalid_target\",\"error_description\":\"no trust with that authorization server\"}")));
        String caller = idp.accessToken(RESOURCE, "mcp:tools");
        upstream.clearRequests();
        try (GatewayHarness gw = gateway("portcullis-at-saas")) {
            var response = gw.send(gw.post(GatewayHarness.toolCall(1, "whoami")).header("Authorization", "Bearer " + caller).build());
            // Refused like any exchange the IdP denies (EXCHANGE-05): an error, without the IdP's words.
            assertThat(response.statusCode() >= 400 || response.body().contains("\"error\"")).as(response.body()).isTrue();
            assertThat(response.body()).doesNotContain("\"result\"", "no trust with that authorization server");
            assertThat(upstream.requests()).isEmpty();
        }
    }
}
