package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.testing.McpClients;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.modelcontextprotocol.client.McpClient;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.client.transport.HttpClientStreamableHttpTransport;
import io.modelcontextprotocol.spec.McpSchema;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Token exchange end to end against a real authorization server (mock-oauth2-server performing
 * RFC 8693): a Java MCP SDK client → Portcullis → a Java MCP SDK server whose {@code whoami} tool
 * returns the Authorization header it received.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TokenExchangeTest {
    private static final String EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
    private static final String ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";

    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().idp(TestIdp::startWithTokenExchange).noGateway().build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();

    @TempDir
    Path dir;

    private GatewayHarness gateway(String upstreamAuth) {
        return GatewayHarness.start(idp.issuer(), upstream.url(), upstreamAuth, null);
    }

    private String exchangeYaml(String extra) {
        return """
                upstream-auth:
                  type: token-exchange
                  token-endpoint: %s
                  client-id: portcullis
                  client-secret: gateway-secret
                  audience: todo-server
                  scopes: [todo:read]
                %s""".formatted(idp.tokenEndpoint(), extra == null ? "" : extra.indent(2));
    }

    /** Calls whoami in a fresh session and returns the bearer token the upstream received. */
    private static String tokenSeenUpstream(GatewayHarness gw, String callerToken) {
        try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", callerToken)) {
            client.initialize();
            String authorization = McpClients.text(client.callTool(new McpSchema.CallToolRequest("whoami", Map.of())));
            assertThat(authorization).startsWith("Bearer ");
            return authorization.substring("Bearer ".length());
        }
    }

    private static JWTClaimsSet claims(String jwt) throws Exception {
        return SignedJWT.parse(jwt).getJWTClaimsSet();
    }

    private List<Map<String, String>> exchangesOf(String subjectToken) {
        return idp.tokenRequests().stream()
                .filter(r -> EXCHANGE.equals(r.get("grant_type")) && subjectToken.equals(r.get("subject_token")))
                .toList();
    }

    @Test
    void exchange01UpstreamGetsATokenForItselfNeverTheCallersOwn() throws Exception {
        String caller = idp.accessToken(RESOURCE, "mcp:tools admin:everything");
        String seen;
        try (GatewayHarness gw = gateway(exchangeYaml(null))) {
            seen = tokenSeenUpstream(gw, caller);
        }

        assertThat(seen).isNotEqualTo(caller);
        JWTClaimsSet exchanged = claims(seen);
        assertThat(exchanged.getAudience()).containsExactly("todo-server");
        assertThat(exchanged.getSubject()).isEqualTo(TestIdp.SUBJECT);
        assertThat(exchanged.getIssuer()).isEqualTo(idp.issuer());
        // EXCHANGE-07: only the configured scope, none of the caller's.
        assertThat(exchanged.getStringClaim("scope")).isEqualTo("todo:read");
        assertThat(exchanged.getStringClaim("azp")).isEqualTo("portcullis");
        assertThat(exchanged.getClaim("act")).isNull();

        assertThat(upstream.requests()).isNotEmpty().allSatisfy(r -> {
            assertThat(r.header("authorization")).startsWith("Bearer ").isNotEqualTo("Bearer " + caller);
            assertThat(r.headers().toString()).doesNotContain(caller);
            assertThat(r.body()).doesNotContain(caller);
        });

        // EXCHANGE-02/03: the request as RFC 8693 wants it; no actor parameters without an actor.
        List<Map<String, String>> exchanges = exchangesOf(caller);
        assertThat(exchanges).as("one exchange for the whole session (cached)").hasSize(1);
        assertThat(exchanges.get(0)).containsEntry("subject_token_type", ACCESS_TOKEN)
                .containsEntry("requested_token_type", ACCESS_TOKEN)
                .containsEntry("audience", "todo-server")
                .containsEntry("scope", "todo:read")
                .doesNotContainKeys("actor_token", "actor_token_type", "resource", "client_secret");
    }

    @Test
    void exchange03WithActorTokenTheIssuedTokenNamesTheGatewayAsActor() throws Exception {
        String caller = idp.accessToken(RESOURCE, "mcp:tools");
        String seen;
        try (GatewayHarness gw = gateway(exchangeYaml("actor-token: true\nresource: https://todo.internal/mcp"))) {
            seen = tokenSeenUpstream(gw, caller);
        }
        JWTClaimsSet exchanged = claims(seen);
        assertThat(exchanged.getSubject()).isEqualTo(TestIdp.SUBJECT);
        assertThat(exchanged.getJSONObjectClaim("act")).containsEntry("sub", "portcullis");

        Map<String, String> exchange = exchangesOf(caller).get(0);
        assertThat(exchange).containsEntry("actor_token_type", ACCESS_TOKEN)
                .containsEntry("resource", "https://todo.internal/mcp");
        JWTClaimsSet actor = claims(exchange.get("actor_token"));
        assertThat(actor.getSubject()).isEqualTo("portcullis");
        assertThat(idp.tokenRequests()).anySatisfy(r -> assertThat(r).containsEntry("grant_type", "client_credentials"));
    }

    @Test
    void exchange06HundredConcurrentCallsByOneCallerCauseOneExchange() throws Exception {
        AtomicReference<String> bearer = new AtomicReference<>(idp.accessToken(RESOURCE, "mcp:tools"));
        String concurrentCaller = idp.accessToken(RESOURCE, "mcp:tools");
        ExecutorService pool = Executors.newFixedThreadPool(100);
        try (GatewayHarness gw = gateway(exchangeYaml(null));
             McpSyncClient client = McpClient.sync(HttpClientStreamableHttpTransport.builder(gw.baseUrl()).endpoint("/mcp")
                             .addHttpRequestCustomizer((request, method, uri, body, context) ->
                                     request.header("Authorization", "Bearer " + bearer.get()))
                             .build())
                     .requestTimeout(Duration.ofSeconds(20)).build()) {
            client.initialize();
            // The same session, now with a token the gateway has never exchanged: all 100 calls need it at once.
            bearer.set(concurrentCaller);
            CountDownLatch go = new CountDownLatch(1);
            List<CompletableFuture<String>> calls = new java.util.ArrayList<>();
            for (int i = 0; i < 100; i++) {
                calls.add(CompletableFuture.supplyAsync(() -> {
                    await(go);
                    return McpClients.text(client.callTool(new McpSchema.CallToolRequest("whoami", Map.of())));
                }, pool));
            }
            go.countDown();
            List<String> seen = calls.stream().map(CompletableFuture::join).distinct().toList();
            assertThat(seen).hasSize(1);
            assertThat(claims(seen.get(0).substring(7)).getSubject()).isEqualTo(TestIdp.SUBJECT);
            // The cache's lookups are counted: the new token was a miss once; the other calls found it.
            String metrics = gw.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:"
                    + gw.gateway.adminPort() + "/metrics")).build()).body();
            assertThat(metrics).containsPattern("portcullis_exchange_cache_total\\{mode=\"token-exchange\",outcome=\"miss\",route=\"[^\"]+\"\\} [2-9]")
                    .containsPattern("portcullis_exchange_cache_total\\{mode=\"token-exchange\",outcome=\"hit\",route=\"[^\"]+\"\\} [0-9]{3}");
        } finally {
            pool.shutdownNow();
        }
        assertThat(exchangesOf(concurrentCaller)).hasSize(1);
    }

    @Test
    void exchange06NoCachedTokenIsUsedAfterTheCallersTokenExpires() throws Exception {
        try (GatewayHarness gw = gateway(exchangeYaml("safety-margin: 0s"))) {
            Instant expiry = Instant.ofEpochSecond(Instant.now().getEpochSecond() + 4);
            // The gateway accepts the token for clock-skew seconds after exp; its exchanged token must not outlive exp.
            String caller = idp.accessToken(RESOURCE, "mcp:tools", Map.of("exp", expiry));
            try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", caller)) {
                client.initialize();
                String first = McpClients.text(client.callTool(new McpSchema.CallToolRequest("whoami", Map.of())));
                assertThat(exchangesOf(caller)).as("cached within the caller's token lifetime").hasSize(1);
                Thread.sleep(Math.max(0, Duration.between(Instant.now(), expiry).toMillis()) + 300);
                String second = McpClients.text(client.callTool(new McpSchema.CallToolRequest("whoami", Map.of())));
                assertThat(second).isNotEqualTo(first);
                assertThat(exchangesOf(caller)).hasSizeGreaterThanOrEqualTo(2);
            }
        }
    }

    @Test
    void clientCredentialsModeSendsTheGatewaysOwnToken() throws Exception {
        String caller = idp.accessToken(RESOURCE, "mcp:tools");
        String yaml = """
                upstream-auth:
                  type: client-credentials
                  token-endpoint: %s
                  client-id: portcullis
                  client-auth: client_secret_post
                  client-secret: gateway-secret
                  resource: https://todo.internal/mcp
                  scopes: [todo:read]
                """.formatted(idp.tokenEndpoint());
        int before = idp.tokenRequests().size();
        String seen;
        try (GatewayHarness gw = gateway(yaml)) {
            seen = tokenSeenUpstream(gw, caller);
            assertThat(tokenSeenUpstream(gw, idp.accessToken(RESOURCE, "mcp:tools"))).as("the same token for every caller").isEqualTo(seen);
        }
        JWTClaimsSet token = claims(seen);
        assertThat(token.getSubject()).isEqualTo("portcullis");
        assertThat(token.getAudience()).containsExactly("https://todo.internal/mcp");
        assertThat(token.getStringClaim("scope")).isEqualTo("todo:read");
        List<Map<String, String>> requests = idp.tokenRequests().subList(before, idp.tokenRequests().size());
        assertThat(requests).hasSize(1);
        assertThat(requests.get(0)).containsEntry("grant_type", "client_credentials").containsEntry("client_id", "portcullis")
                .containsEntry("scope", "todo:read").doesNotContainKey("subject_token");
        assertThat(requests.toString()).doesNotContain(caller);
    }

    @Test
    void privateKeyJwtIsAcceptedByARealAuthorizationServer() throws Exception {
        var generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        Path pem = dir.resolve("gateway-key.pem");
        Files.writeString(pem, "-----BEGIN PRIVATE KEY-----\n"
                + Base64.getMimeEncoder().encodeToString(generator.generateKeyPair().getPrivate().getEncoded())
                + "\n-----END PRIVATE KEY-----\n");
        String yaml = """
                upstream-auth:
                  type: token-exchange
                  token-endpoint: %s
                  client-id: portcullis
                  client-auth: private_key_jwt
                  private-key-file: %s
                  key-id: gw-1
                  audience: todo-server
                """.formatted(idp.tokenEndpoint(), pem);
        String caller = idp.accessToken(RESOURCE, "mcp:tools");
        try (GatewayHarness gw = gateway(yaml)) {
            assertThat(claims(tokenSeenUpstream(gw, caller)).getAudience()).containsExactly("todo-server");
        }
        Map<String, String> exchange = exchangesOf(caller).get(0);
        assertThat(exchange).containsEntry("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                .doesNotContainKeys("client_secret", "scope");
        assertThat(claims(exchange.get("client_assertion")).getAudience()).containsExactly(idp.tokenEndpoint());
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
