package dev.portcullis.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSObject;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.spec.McpSchema;
import io.modelcontextprotocol.spec.McpSchema.CallToolRequest;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class TestFixturesSelfTest {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void idpTokenVerifiesAgainstItsJwksAndDiscoveryPointsThere() throws Exception {
        try (TestIdp idp = TestIdp.start()) {
            assertThat(idp.issuer()).isEqualTo("http://127.0.0.1:" + idp.port() + "/default");
            Map<String, Object> discovery = JSONObjectUtils.parse(get(idp.discoveryUrl()).body());
            assertThat(discovery).containsEntry("issuer", idp.issuer()).containsEntry("jwks_uri", idp.jwksUri());

            String token = idp.accessToken("https://gw.example/mcp", "mcp:tools");
            JWTClaimsSet claims = verify(token, fetchJwks(idp), idp.issuer());

            assertThat(SignedJWT.parse(token).getHeader().getKeyID()).isEqualTo(idp.kid());
            assertThat(claims.getSubject()).isEqualTo("user-123");
            assertThat(claims.getAudience()).containsExactly("https://gw.example/mcp");
            assertThat(claims.getStringClaim("scope")).isEqualTo("mcp:tools");
            assertThat(claims.getStringClaim("client_id")).isEqualTo("test-agent");
            assertThat(claims.getStringClaim("azp")).isEqualTo("test-agent");
            assertThat(claims.getJWTID()).isNotBlank();
            assertThat(claims.getExpirationTime().toInstant())
                    .isBetween(Instant.now().plusSeconds(3590), Instant.now().plusSeconds(3610));
            assertThat(idp.jwksFetches()).isEqualTo(1);
            assertThat(idp.requestedPaths())
                    .containsExactly("/default/.well-known/openid-configuration", "/default/jwks");
        }
    }

    @Test
    void claimOverridesReplaceOrRemoveClaims() throws Exception {
        try (TestIdp idp = TestIdp.start()) {
            JWKSet jwks = fetchJwks(idp);
            Map<String, Object> overrides = new HashMap<>();
            overrides.put("exp", Instant.now().minusSeconds(60));
            overrides.put("aud", List.of("a", "b"));
            overrides.put("scope", null);
            String expired = idp.accessToken(overrides);

            assertThat(signatureValid(expired, jwks)).isTrue();
            assertThatThrownBy(() -> verify(expired, jwks, idp.issuer()))
                    .isInstanceOf(BadJOSEException.class).hasMessageContaining("Expired");
            JWTClaimsSet claims = SignedJWT.parse(expired).getJWTClaimsSet();
            assertThat(claims.getAudience()).containsExactly("a", "b");
            assertThat(claims.getClaims()).doesNotContainKey("scope").containsKey("iat");

            String odd = idp.accessToken(Map.of("exp", "tomorrow", "iss", "https://evil.example"));
            assertThat(signatureValid(odd, jwks)).isTrue();
            Map<String, Object> raw = JWSObject.parse(odd).getPayload().toJSONObject();
            assertThat(raw).containsEntry("exp", "tomorrow").containsEntry("iss", "https://evil.example")
                    .containsEntry("aud", TestIdp.DEFAULT_AUDIENCE);
        }
    }

    @Test
    void rotateKeyChangesKidAndJwksServesOnlyTheNewKey() throws Exception {
        try (TestIdp idp = TestIdp.start()) {
            String oldKid = idp.kid();
            String oldToken = idp.accessToken("aud", "s");
            assertThat(verify(oldToken, fetchJwks(idp), idp.issuer()).getSubject()).isEqualTo("user-123");

            idp.rotateKey();
            String newToken = idp.accessToken("aud", "s");
            JWKSet refreshed = fetchJwks(idp);

            assertThat(idp.kid()).isNotEqualTo(oldKid);
            assertThat(SignedJWT.parse(newToken).getHeader().getKeyID()).isEqualTo(idp.kid());
            assertThat(SignedJWT.parse(oldToken).getHeader().getKeyID()).isEqualTo(oldKid);
            assertThat(refreshed.getKeys()).extracting(k -> k.getKeyID()).containsExactly(idp.kid());
            assertThat(verify(newToken, refreshed, idp.issuer()).getAudience()).containsExactly("aud");
            assertThatThrownBy(() -> verify(oldToken, refreshed, idp.issuer())).isInstanceOf(BadJOSEException.class);
            assertThat(idp.jwksFetches()).isEqualTo(2);
        }
    }

    @Test
    void stopMakesJwksUnreachableAndRestartOnSamePortServesANewKey() throws Exception {
        TestIdp idp = TestIdp.start();
        String oldKid = idp.kid();
        assertThat(get(idp.jwksUri()).statusCode()).isEqualTo(200);

        idp.stop();
        assertThat(idp.issuer()).endsWith(":" + idp.port() + "/default");
        assertThatThrownBy(() -> get(idp.jwksUri())).isInstanceOf(ConnectException.class);
        idp.close(); // idempotent

        try (TestIdp restarted = TestIdp.start(idp.port())) {
            assertThat(restarted.jwksUri()).isEqualTo(idp.jwksUri());
            assertThat(fetchJwks(restarted).getKeys()).extracting(k -> k.getKeyID())
                    .containsExactly(restarted.kid()).doesNotContain(oldKid);
        }
    }

    @Test
    void tokenEndpointPutsResourceParameterIntoAud() throws Exception {
        try (TestIdp idp = TestIdp.startWithResourceAudience()) {
            String resource = "http://127.0.0.1:9/mcp";
            HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(idp.tokenEndpoint()))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Authorization", "Basic " + Base64.getEncoder()
                            .encodeToString("my-agent:secret".getBytes(StandardCharsets.UTF_8)))
                    .POST(HttpRequest.BodyPublishers.ofString("grant_type=client_credentials&scope=mcp%3Atools&resource="
                            + URLEncoder.encode(resource, StandardCharsets.UTF_8)))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(200);
            String token = (String) JSONObjectUtils.parse(response.body()).get("access_token");

            JWTClaimsSet claims = verify(token, fetchJwks(idp), idp.issuer());
            assertThat(claims.getAudience()).containsExactly(resource);
            assertThat(claims.getIssuer()).isEqualTo(idp.issuer());
            assertThat(claims.getSubject()).isEqualTo("my-agent");
            assertThat(claims.getStringClaim("client_id")).isEqualTo("my-agent");
            assertThat(claims.getStringClaim("scope")).isEqualTo("mcp:tools");
            assertThat(SignedJWT.parse(token).getHeader().getKeyID()).isEqualTo(idp.kid());
            assertThat(idp.tokenRequests()).singleElement().satisfies(params -> assertThat(params)
                    .containsEntry("grant_type", "client_credentials").containsEntry("resource", resource));
        }
    }

    @Test
    void mcpClientTalksToServerDirectlyAndWhoamiSeesTheBearerToken() {
        try (TestMcpServer server = TestMcpServer.start()) {
            McpSyncClient client = McpClients.streamable(server.baseUrl(), "/mcp", "tok-123");
            try {
                McpSchema.InitializeResult init = client.initialize();
                assertThat(init.serverInfo().name()).isEqualTo("portcullis-test-upstream");
                assertThat(client.listTools().tools()).extracting(McpSchema.Tool::name)
                        .contains("echo", "whoami", "slow_progress");
                assertThat(McpClients.text(client.callTool(call("echo", Map.of("text", "hi")))))
                        .isEqualTo("hi");
                assertThat(McpClients.text(client.callTool(call("whoami", Map.of()))))
                        .isEqualTo("Bearer tok-123");
            } finally {
                client.close();
            }

            List<TestMcpServer.RecordedRequest> seen = server.requests();
            assertThat(seen).isNotEmpty().allSatisfy(r -> {
                assertThat(r.path()).isEqualTo("/mcp");
                assertThat(r.header("Authorization")).isEqualTo("Bearer tok-123");
            });
            TestMcpServer.RecordedRequest first = seen.get(0);
            assertThat(first.method()).isEqualTo("POST");
            assertThat(first.body()).contains("\"method\":\"initialize\"");
            assertThat(first.header("accept")).contains("application/json").contains("text/event-stream");
            assertThat(first.header("content-type")).startsWith("application/json");
            assertThat(first.header("mcp-session-id")).isNull();
            // the SDK client sends MCP-Protocol-Version on every request, even on initialize
            assertThat(seen).allSatisfy(r -> assertThat(r.header("mcp-protocol-version")).isEqualTo("2025-11-25"));
            String sessionId = seen.get(1).header("mcp-session-id");
            assertThat(sessionId).isNotBlank();
            assertThat(seen.subList(1, seen.size())).allSatisfy(r -> assertThat(r.header("mcp-session-id")).isEqualTo(sessionId));
        }
    }

    @Test
    void withoutTokenWhoamiSaysNoneAndRequestsCanBeCleared() {
        try (TestMcpServer server = TestMcpServer.start()) {
            try (McpSyncClient client = McpClients.streamable(server.baseUrl(), "/mcp", null)) {
                client.initialize();
                server.clearRequests();
                assertThat(McpClients.text(client.callTool(call("whoami", Map.of()))))
                        .isEqualTo("none");
            }
            assertThat(server.requests()).extracting(TestMcpServer.RecordedRequest::body)
                    .anySatisfy(body -> assertThat(body).contains("\"name\":\"whoami\""));
            assertThat(server.requests()).allSatisfy(r -> assertThat(r.headers()).doesNotContainKey("authorization"));
        }
    }

    @Test
    void slowProgressStreamsTwoNotificationsBeforeTheResult() {
        try (TestMcpServer server = TestMcpServer.start()) {
            List<McpSchema.ProgressNotification> progress = new CopyOnWriteArrayList<>();
            List<McpSchema.LoggingMessageNotification> logs = new CopyOnWriteArrayList<>();
            try (McpSyncClient client = McpClients.spec(server.baseUrl(), "/mcp", null)
                    .progressConsumer(progress::add).loggingConsumer(logs::add).build()) {
                client.initialize();
                long start = System.nanoTime();
                var result = client.callTool(CallToolRequest.builder("slow_progress").progressToken("p-1").build());
                assertThat(McpClients.text(result)).isEqualTo("done");
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(600));
            }
            assertThat(progress).extracting(McpSchema.ProgressNotification::progress).containsExactly(1.0, 2.0);
            assertThat(progress).allSatisfy(p -> assertThat(p.progressToken()).isEqualTo("p-1"));
            assertThat(logs).extracting(McpSchema.LoggingMessageNotification::data).containsExactly("step 1", "step 2");
        }
    }

    private static CallToolRequest call(String tool, Map<String, Object> arguments) {
        return CallToolRequest.builder(tool).arguments(arguments).build();
    }

    private static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JWKSet fetchJwks(TestIdp idp) throws Exception {
        HttpResponse<String> response = get(idp.jwksUri());
        assertThat(response.statusCode()).isEqualTo(200);
        return JWKSet.parse(response.body());
    }

    private static JWTClaimsSet verify(String token, JWKSet jwks, String issuer) throws Exception {
        DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
        processor.setJWSKeySelector(new JWSVerificationKeySelector<>(JWSAlgorithm.RS256, new ImmutableJWKSet<>(jwks)));
        processor.setJWTClaimsSetVerifier(new DefaultJWTClaimsVerifier<>(
                new JWTClaimsSet.Builder().issuer(issuer).build(), Set.of("sub", "iat", "exp", "jti")));
        return processor.process(token, null);
    }

    private static boolean signatureValid(String token, JWKSet jwks) throws Exception {
        JWSObject jws = JWSObject.parse(token);
        RSAKey key = (RSAKey) jwks.getKeyByKeyId(jws.getHeader().getKeyID());
        return jws.verify(new RSASSAVerifier(key));
    }
}
