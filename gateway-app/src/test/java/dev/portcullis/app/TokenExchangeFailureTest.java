package dev.portcullis.app;

import static com.github.tomakehurst.wiremock.client.WireMock.absent;
import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.matching;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.portcullis.app.GatewayHarness.PRM_URL;
import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static dev.portcullis.app.GatewayHarness.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.testing.McpClients;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.spec.McpSchema;
import java.net.URLDecoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * EXCHANGE-04/05 and JSONRPC-08 end to end: a token endpoint (WireMock) that fails in every
 * documented way; the client always gets the documented status and a JSON-RPC error carrying its
 * request id, never the IdP's text, and the upstream gets no request. Also the request shapes of
 * client_secret_post, private_key_jwt and Microsoft Entra on-behalf-of, matched exactly.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TokenExchangeFailureTest {
    /** Appears in every IdP error body: it must never reach the client. */
    private static final String IDP_TEXT = "IDP-INTERNAL-DETAIL";
    private static final String TOKEN_TYPE = "\"issued_token_type\":\"urn:ietf:params:oauth:token-type:access_token\"";
    private static final String ISSUED = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.aXNzdWVkLWJ5LXdpcmVtb2Nr";

    private final ObjectMapper json = new ObjectMapper();
    private final AtomicInteger ids = new AtomicInteger();
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().noGateway().build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final WireMockServer tokenEndpoint = startTokenEndpoint();
    private final GatewayHarness gw = peers.startGateway(upstream.url(), exchangeYaml("""
            client-secret: gateway-secret
            audience: todo-server
            scopes: [todo:read]
            timeout: 500ms
            negative-cache: 1s"""));

    @TempDir
    Path dir;

    private static WireMockServer startTokenEndpoint() {
        WireMockServer server = new WireMockServer(options().bindAddress("127.0.0.1").dynamicPort());
        server.start();
        return server;
    }

    @AfterAll
    void stopTokenEndpoint() {
        tokenEndpoint.stop();
    }

    @BeforeEach
    void reset() {
        tokenEndpoint.resetAll();
    }

    private String exchangeYaml(String extra) {
        return """
                upstream-auth:
                  type: token-exchange
                  token-endpoint: http://127.0.0.1:%d/token
                  client-id: portcullis
                %s""".formatted(tokenEndpoint.port(), extra.indent(2));
    }

    private String token() {
        return idp.accessToken(RESOURCE, "mcp:tools");
    }

    private HttpResponse<String> call(GatewayHarness gateway, String id, String token) {
        return gateway.send(gateway.post(toolCall(id, "echo")).header("Authorization", "Bearer " + token).build());
    }

    private static ResponseDefinitionBuilder error(int status, String code) {
        return aResponse().withStatus(status).withHeader("Content-Type", "application/json")
                .withBody("{\"error\":\"" + code + "\",\"error_description\":\"" + IDP_TEXT + "\"}");
    }

    static Stream<Arguments> faults() {
        return Stream.of(
                Arguments.of("token endpoint 500", aResponse().withStatus(500).withBody(IDP_TEXT), 503, -32603),
                Arguments.of("token endpoint too slow", okJson("{}").withFixedDelay(2000), 503, -32603),
                Arguments.of("invalid_request", error(400, "invalid_request"), 401, -32603),
                Arguments.of("invalid_grant", error(400, "invalid_grant"), 401, -32603),
                Arguments.of("invalid_target", error(400, "invalid_target"), 200, -31403),
                Arguments.of("invalid_scope", error(400, "invalid_scope"), 200, -31403),
                Arguments.of("unauthorized_client", error(400, "unauthorized_client"), 200, -31403),
                Arguments.of("invalid_client", error(401, "invalid_client"), 502, -32603),
                Arguments.of("no issued_token_type", okJson("{\"access_token\":\"" + ISSUED + "\",\"token_type\":\"Bearer\","
                        + "\"expires_in\":60,\"note\":\"" + IDP_TEXT + "\"}"), 502, -32603),
                Arguments.of("token_type N_A", okJson("{\"access_token\":\"" + ISSUED + "\",\"token_type\":\"N_A\"," + TOKEN_TYPE + "}"),
                        502, -32603),
                Arguments.of("malformed JSON", okJson("{\"access_token\":\"" + IDP_TEXT), 502, -32603));
    }

    @ParameterizedTest(name = "{0} -> {2}")
    @MethodSource("faults")
    void exchange05FailuresAreAnsweredWithTheRequestIdAndNothingReachesTheUpstream(
            String name, ResponseDefinitionBuilder answer, int status, int code) throws Exception {
        tokenEndpoint.stubFor(post("/token").willReturn(answer));
        String id = "req-" + ids.incrementAndGet();
        HttpResponse<String> response = call(gw, id, token());

        assertThat(response.statusCode()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
        JsonNode body = json.readTree(response.body());
        assertThat(body.get("id").asText()).isEqualTo(id);
        assertThat(body.get("error").get("code").asInt()).isEqualTo(code);
        assertThat(response.body()).doesNotContain(IDP_TEXT, ISSUED, "127.0.0.1");
        if (code == -31403) {
            assertThat(body.get("error").get("message").asText()).isEqualTo("Denied by gateway policy");
        }
        if (status == 401) {
            assertThat(response.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(challenge -> assertThat(challenge)
                    .startsWith("Bearer error=\"invalid_token\"").contains("resource_metadata=\"" + PRM_URL + "\""));
        } else {
            assertThat(response.headers().allValues("WWW-Authenticate")).isEmpty();
        }
        if (status == 503) {
            assertThat(response.headers().firstValue("Retry-After")).hasValue("5");
        }
        assertThat(tokenEndpoint.findAll(postRequestedFor(urlEqualTo("/token")))).hasSize(1);
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void failedExchangesAreNegativelyCachedSoABrokenIdpIsNotHammered() throws Exception {
        tokenEndpoint.stubFor(post("/token").willReturn(aResponse().withStatus(503)));
        String token = token();
        for (int i = 0; i < 5; i++) {
            assertThat(call(gw, "n" + i, token).statusCode()).isEqualTo(503);
        }
        assertThat(tokenEndpoint.findAll(postRequestedFor(urlEqualTo("/token")))).hasSize(1);
        Thread.sleep(1200);
        tokenEndpoint.resetAll();
        tokenEndpoint.stubFor(post("/token").willReturn(okJson("{\"access_token\":\"" + ISSUED + "\",\"token_type\":\"Bearer\","
                + TOKEN_TYPE + "}")));
        // The IdP is back and the negative entry has expired: the next call exchanges again and is forwarded.
        assertThat(call(gw, "n5", token).statusCode()).isNotIn(503, 502);
        assertThat(tokenEndpoint.findAll(postRequestedFor(urlEqualTo("/token")))).hasSize(1);
        assertThat(upstream.requests()).hasSize(1)
                .allSatisfy(r -> assertThat(r.header("authorization")).isEqualTo("Bearer " + ISSUED));
    }

    @Test
    void clientSecretPostRequestShape() {
        String caller = token();
        tokenEndpoint.stubFor(post("/token")
                .withHeader("Content-Type", containing("application/x-www-form-urlencoded"))
                .withHeader("Authorization", absent())
                .withFormParam("grant_type", equalTo("urn:ietf:params:oauth:grant-type:token-exchange"))
                .withFormParam("subject_token", equalTo(caller))
                .withFormParam("subject_token_type", equalTo("urn:ietf:params:oauth:token-type:access_token"))
                .withFormParam("requested_token_type", equalTo("urn:ietf:params:oauth:token-type:access_token"))
                .withFormParam("resource", equalTo("https://todo.internal/mcp"))
                .withFormParam("scope", equalTo("todo:read todo:write"))
                .withFormParam("client_id", equalTo("portcullis"))
                .withFormParam("client_secret", equalTo("p@ss word&more"))
                .willReturn(okJson("{\"access_token\":\"" + ISSUED + "\",\"token_type\":\"Bearer\",\"expires_in\":300," + TOKEN_TYPE + "}")));
        try (GatewayHarness gateway = GatewayHarness.start(idp.issuer(), upstream.url(), exchangeYaml("""
                client-auth: client_secret_post
                client-secret: "p@ss word&more"
                resource: https://todo.internal/mcp
                scopes: [todo:write, todo:read]"""), null)) {
            assertThat(whoami(gateway, caller)).isEqualTo("Bearer " + ISSUED);
        }
        LoggedRequest request = tokenEndpoint.findAll(postRequestedFor(urlEqualTo("/token"))).get(0);
        assertThat(form(request)).doesNotContainKeys("audience", "actor_token", "actor_token_type", "client_assertion");
    }

    @Test
    void privateKeyJwtRequestShape() throws Exception {
        RSAKey key = new RSAKeyGenerator(2048).keyID("gw-key").generate();
        Path jwk = dir.resolve("gateway.jwk");
        Files.writeString(jwk, key.toJSONString());
        String caller = token();
        tokenEndpoint.stubFor(post("/token")
                .withHeader("Authorization", absent())
                .withFormParam("client_id", equalTo("portcullis"))
                .withFormParam("client_assertion_type", equalTo("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"))
                .withFormParam("client_assertion", matching("[\\w-]+\\.[\\w-]+\\.[\\w-]+"))
                .withFormParam("subject_token", equalTo(caller))
                .withFormParam("audience", equalTo("todo-server"))
                .willReturn(okJson("{\"access_token\":\"" + ISSUED + "\",\"token_type\":\"Bearer\",\"expires_in\":300," + TOKEN_TYPE + "}")));
        String endpoint = "http://127.0.0.1:" + tokenEndpoint.port() + "/token";
        try (GatewayHarness gateway = GatewayHarness.start(idp.issuer(), upstream.url(), exchangeYaml("""
                client-auth: private_key_jwt
                private-key-file: %s
                audience: todo-server""".formatted(jwk)), null)) {
            assertThat(whoami(gateway, caller)).isEqualTo("Bearer " + ISSUED);
        }
        Map<String, String> form = form(tokenEndpoint.findAll(postRequestedFor(urlEqualTo("/token"))).get(0));
        assertThat(form).doesNotContainKeys("client_secret", "scope");
        SignedJWT assertion = SignedJWT.parse(form.get("client_assertion"));
        assertThat(assertion.verify(new RSASSAVerifier(key.toRSAPublicKey()))).isTrue();
        assertThat(assertion.getHeader().getKeyID()).isEqualTo("gw-key");
        assertThat(assertion.getJWTClaimsSet().getAudience()).containsExactly(endpoint);
        assertThat(assertion.getJWTClaimsSet().getIssuer()).isEqualTo("portcullis");
        assertThat(assertion.getJWTClaimsSet().getSubject()).isEqualTo("portcullis");
    }

    private GatewayHarness entraGateway() {
        return GatewayHarness.start(idp.issuer(), upstream.url(), exchangeYaml("""
                flavor: entra-obo
                client-auth: client_secret_post
                client-secret: entra-secret
                scopes: [api://todo/.default]"""), null);
    }

    @Test
    void entraOnBehalfOfRequestShapeAndAnswer() {
        String caller = token();
        // Entra answers token_type, scope, expires_in, ext_expires_in and access_token: no issued_token_type.
        tokenEndpoint.stubFor(post("/token")
                .withFormParam("grant_type", equalTo("urn:ietf:params:oauth:grant-type:jwt-bearer"))
                .withFormParam("assertion", equalTo(caller))
                .withFormParam("requested_token_use", equalTo("on_behalf_of"))
                .withFormParam("scope", equalTo("api://todo/.default"))
                .withFormParam("client_id", equalTo("portcullis"))
                .withFormParam("client_secret", equalTo("entra-secret"))
                .willReturn(okJson("{\"token_type\":\"Bearer\",\"scope\":\"api://todo/Todo.Read\",\"expires_in\":4443,"
                        + "\"ext_expires_in\":4443,\"access_token\":\"" + ISSUED + "\"}")));
        try (GatewayHarness gateway = entraGateway()) {
            assertThat(whoami(gateway, caller)).isEqualTo("Bearer " + ISSUED);
        }
        Map<String, String> form = form(tokenEndpoint.findAll(postRequestedFor(urlEqualTo("/token"))).get(0));
        assertThat(form).doesNotContainKeys("subject_token", "audience", "resource", "requested_token_type");
    }

    static Stream<Arguments> entraErrors() {
        return Stream.of(
                Arguments.of(400, "invalid_grant", "AADSTS50013: Assertion failed signature validation.", 401),
                Arguments.of(400, "invalid_grant", "AADSTS500133: Assertion is not within its valid time range.", 401),
                Arguments.of(400, "invalid_scope", "AADSTS70011: The provided value for the input parameter 'scope' is not valid.", 200),
                Arguments.of(400, "unauthorized_client", "AADSTS700016: Application not found in the directory.", 200),
                Arguments.of(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.", 502),
                Arguments.of(503, "temporarily_unavailable", "AADSTS90033: A transient error has occurred.", 503));
    }

    @ParameterizedTest(name = "{1} {2}")
    @MethodSource("entraErrors")
    void entraOnBehalfOfErrorsMapLikeTokenExchange(int httpStatus, String error, String description, int expected) throws Exception {
        tokenEndpoint.stubFor(post("/token").willReturn(aResponse().withStatus(httpStatus).withHeader("Content-Type", "application/json")
                .withBody("{\"error\":\"" + error + "\",\"error_description\":\"" + description + "\\r\\nTrace ID: "
                        + "0000aaaa-11bb-cccc-dd22-eeeeee333333\\r\\nTimestamp: 2026-01-01 00:00:00Z\",\"error_codes\":[50013],"
                        + "\"timestamp\":\"2026-01-01 00:00:00Z\",\"trace_id\":\"0000aaaa-11bb-cccc-dd22-eeeeee333333\"}")));
        try (GatewayHarness gateway = entraGateway()) {
            HttpResponse<String> response = call(gateway, "entra-1", token());
            assertThat(response.statusCode()).isEqualTo(expected);
            assertThat(json.readTree(response.body()).get("id").asText()).isEqualTo("entra-1");
            assertThat(response.body()).doesNotContain("AADSTS", "Trace");
        }
        assertThat(upstream.requests()).isEmpty();
    }

    private static String whoami(GatewayHarness gateway, String caller) {
        try (McpSyncClient client = McpClients.streamable(gateway.baseUrl(), "/mcp", caller)) {
            client.initialize();
            return McpClients.text(client.callTool(new McpSchema.CallToolRequest("whoami", Map.of())));
        }
    }

    private static Map<String, String> form(LoggedRequest request) {
        Map<String, String> params = new java.util.LinkedHashMap<>();
        for (String pair : request.getBodyAsString().split("&")) {
            int eq = pair.indexOf('=');
            params.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                    URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return params;
    }
}
