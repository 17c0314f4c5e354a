package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.PRM_URL;
import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static dev.portcullis.app.GatewayHarness.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.testing.McpClients;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.spec.McpSchema;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The authenticated path end to end: a real MCP client (Java SDK) → Portcullis → a real MCP
 * server (Java SDK), with tokens from a real authorization server (mock-oauth2-server).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AuthenticatedProxyTest {
    private final ObjectMapper json = new ObjectMapper();
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();

    private String token() {
        return idp.accessToken(RESOURCE, "mcp:tools");
    }

    @Test
    void realClientInitializesListsAndCallsToolsThroughTheGateway() {
        String token = token();
        try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", token)) {
            client.initialize();
            assertThat(client.listTools().tools()).extracting(McpSchema.Tool::name).contains("echo", "whoami");
            var echo = client.callTool(new McpSchema.CallToolRequest("echo", Map.of("text", "hello gateway")));
            assertThat(McpClients.text(echo)).contains("hello gateway");
            // PROXY-01 / EXCHANGE-01: the upstream never receives the caller's token (route mode none).
            var whoami = client.callTool(new McpSchema.CallToolRequest("whoami", Map.of()));
            assertThat(McpClients.text(whoami)).isEqualTo("none");
        }
        // The SDK client sends its DELETE (end of session) asynchronously on close: it must arrive too.
        java.time.Instant deadline = java.time.Instant.now().plusSeconds(5);
        while (upstream.requests().stream().noneMatch(r -> r.method().equals("DELETE"))
                && java.time.Instant.now().isBefore(deadline)) {
            GatewayHarness.sleep(20);
        }
        assertThat(upstream.requests()).extracting(TestMcpServer.RecordedRequest::method)
                .contains("POST", "GET", "DELETE");
        assertThat(upstream.requests()).isNotEmpty().allSatisfy(r -> {
            assertThat(r.header("authorization")).isNull();
            assertThat(r.headers().toString()).doesNotContain(token);
            assertThat(r.body()).doesNotContain(token);
            assertThat(r.path()).doesNotContain(token);
            assertThat(r.header("x-forwarded-proto")).isEqualTo("http");
        });
        // Sessions pass through: the upstream saw its own session id come back.
        assertThat(upstream.requests()).anySatisfy(r -> assertThat(r.header("mcp-session-id")).isNotNull());
    }

    /** Each bad credential: the right status and challenge, and the upstream sees nothing (AUTHN-15). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("badCredentials")
    void badCredentialsAreRefusedBeforeTheUpstream(String name, Map<String, String[]> headers, String query,
                                                   int status, String error) {
        HttpRequest.Builder request = gw.post(toolCall(1, "echo"));
        if (query != null) {
            request.uri(java.net.URI.create(gw.baseUrl() + "/mcp?" + query));
        }
        headers.forEach((header, values) -> Arrays.stream(values).forEach(v -> request.header(header, v)));
        HttpResponse<String> response = gw.send(request.build());

        assertThat(response.statusCode()).isEqualTo(status);
        var challenges = response.headers().allValues("WWW-Authenticate");
        assertThat(challenges).hasSize(1);
        String challenge = challenges.get(0);
        assertThat(challenge).startsWith("Bearer ").contains("resource_metadata=\"" + PRM_URL + "\"");
        if (error == null) {
            // CHALLENGE-01: no credentials → no error param, baseline scope.
            assertThat(challenge).doesNotContain("error=").contains("scope=\"mcp:tools\"");
        } else {
            assertThat(challenge).contains("error=\"" + error + "\"");
        }
        assertThat(response.headers().firstValue("Cache-Control")).contains("no-store");
        assertThat(upstream.requests()).isEmpty();
    }

    Stream<Arguments> badCredentials() throws Exception {
        Instant now = Instant.now();
        String valid = token();
        RSAKey stranger = new RSAKeyGenerator(2048).keyID("unknown-kid").generate();
        return Stream.of(
                Arguments.of("none", Map.of(), null, 401, null),
                Arguments.of("token in the query string only (AUTHN-02)", Map.of(), "access_token=" + valid, 401, null),
                Arguments.of("two Authorization headers (AUTHN-03)",
                        Map.of("Authorization", new String[] {"Bearer " + valid, "Bearer " + valid}), null, 400, "invalid_request"),
                Arguments.of("malformed", bearer("not-a-jwt"), null, 401, "invalid_token"),
                Arguments.of("expired (AUTHN-08)", bearer(idp.accessToken(RESOURCE, "mcp:tools",
                        Map.of("exp", now.minusSeconds(3600).getEpochSecond(), "iat", now.minusSeconds(7200).getEpochSecond()))),
                        null, 401, "invalid_token"),
                Arguments.of("not yet valid", bearer(idp.accessToken(RESOURCE, "mcp:tools",
                        Map.of("nbf", now.plusSeconds(3600).getEpochSecond()))), null, 401, "invalid_token"),
                Arguments.of("wrong aud (AUTHN-07)", bearer(idp.accessToken("https://upstream.internal/mcp", "mcp:tools")),
                        null, 401, "invalid_token"),
                Arguments.of("wrong iss (AUTHN-06)", bearer(idp.accessToken(RESOURCE, "mcp:tools",
                        Map.of("iss", idp.issuer() + "/"))), null, 401, "invalid_token"),
                Arguments.of("alg none (AUTHN-04)", bearer(new PlainJWT(claims(valid)).serialize()), null, 401, "invalid_token"),
                Arguments.of("HS256 with the public key (AUTHN-04)", bearer(hs256WithPublicKey(valid)), null, 401, "invalid_token"),
                Arguments.of("tampered payload", bearer(tampered(valid)), null, 401, "invalid_token"),
                Arguments.of("unknown kid (AUTHN-05)", bearer(signed(stranger, claims(valid))), null, 401, "invalid_token"));
    }

    private static Map<String, String[]> bearer(String token) {
        return Map.of("Authorization", new String[] {"Bearer " + token});
    }

    private static JWTClaimsSet claims(String token) throws Exception {
        return SignedJWT.parse(token).getJWTClaimsSet();
    }

    private String hs256WithPublicKey(String token) throws Exception {
        byte[] secret = idp.signingKey().toPublicJWK().toJSONString().getBytes(StandardCharsets.UTF_8);
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(idp.kid()).build(), claims(token));
        jwt.sign(new MACSigner(secret));
        return jwt.serialize();
    }

    private static String tampered(String token) throws Exception {
        String[] parts = token.split("\\.");
        Map<String, Object> forged = new HashMap<>(claims(token).toJSONObject());
        forged.put("sub", "admin");
        return parts[0] + "." + Base64URL.encode(new ObjectMapper().writeValueAsBytes(forged)) + "." + parts[2];
    }

    private static String signed(RSAKey key, JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID())
                .type(JOSEObjectType.JWT).build(), claims);
        jwt.sign(new RSASSASigner(key));
        return jwt.serialize();
    }

    @Test
    void prm01ProtectedResourceMetadataIsServedWithoutAuthAndNeverProxied() throws Exception {
        HttpResponse<String> response = gw.get("/.well-known/oauth-protected-resource/mcp");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).contains("application/json");
        assertThat(response.headers().firstValue("Access-Control-Allow-Origin")).contains("*");
        JsonNode doc = json.readTree(response.body());
        assertThat(doc.get("resource").asText()).isEqualTo(RESOURCE);
        assertThat(doc.get("authorization_servers").get(0).asText()).isEqualTo(idp.issuer());
        assertThat(doc.get("scopes_supported").get(0).asText()).isEqualTo("mcp:tools");
        assertThat(doc.get("bearer_methods_supported").get(0).asText()).isEqualTo("header");
        // PRM-06: single endpoint, so the root document is served too.
        assertThat(gw.get("/.well-known/oauth-protected-resource").statusCode()).isEqualTo(200);
        assertThat(gw.get("/.well-known/oauth-authorization-server").statusCode()).isEqualTo(404);
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void transport12OversizedBodyIs413AndNeverForwarded() {
        String huge = toolCall(1, "echo").replace("\"hi\"", "\"" + "x".repeat(100 * 1024) + "\"");
        HttpResponse<String> response = gw.send(gw.post(huge).header("Authorization", "Bearer " + token()).build());
        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void jsonrpc01InvalidMessageIs400WithJsonRpcErrorAndNeverForwarded() throws Exception {
        HttpResponse<String> response = gw.send(gw.post("{\"jsonrpc\":\"1.0\",\"id\":42,\"method\":\"ping\"}")
                .header("Authorization", "Bearer " + token()).build());
        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode body = json.readTree(response.body());
        assertThat(body.get("id").asInt()).isEqualTo(42);
        assertThat(body.get("error").get("code").asInt()).isEqualTo(-32600);
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void unknownPathIs404AndDotSegmentsNeverMatchARoute() {
        assertThat(gw.get("/other").statusCode()).isEqualTo(404);
        assertThat(gw.get("/mcp/../admin").statusCode()).isEqualTo(404);
        assertThat(upstream.requests()).isEmpty();
    }
}
