package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.oauth2.sdk.dpop.DefaultDPoPProofFactory;
import com.nimbusds.oauth2.sdk.id.JWTID;
import com.nimbusds.oauth2.sdk.token.DPoPAccessToken;
import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.testing.KeycloakServer;
import dev.portcullis.testing.TestMcpServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * DPoP with a real peer (issue 16): Keycloak 26 issues a DPoP-bound token to a client that sends a real proof (made by
 * the Nimbus OAuth 2.0 SDK) with its token request, and the client calls a tool through a gateway whose route
 * requires DPoP, with a fresh proof per request. The gateway exchanges the caller's token for the upstream as usual;
 * the upstream sees neither the caller's token nor the proof. A replayed proof and the same token sent as
 * {@code Bearer} are refused before anything reaches the upstream.
 *
 * <p>Runs with the other Keycloak tests (tag {@code keycloak}; {@code -Dkeycloak.skip} leaves it out).
 */
@Tag("keycloak")
@Tag("interop")
@ExtendWith(KeycloakServer.Extension.class)
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class KeycloakDpopTest {
    private static final Path MODULE_DIR =
            Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
    private static final Path OUT = MODULE_DIR.resolve("target/keycloak-dpop-test");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static KeycloakServer keycloak;
    private static TestMcpServer upstream;
    private static Gateway gateway;
    private static String resource;
    private static ECKey key;
    private static DefaultDPoPProofFactory proofs;

    @BeforeAll
    static void start() throws Exception {
        keycloak = KeycloakServer.Extension.server();
        upstream = TestMcpServer.start();
        key = new ECKeyGenerator(Curve.P_256).generate();
        proofs = new DefaultDPoPProofFactory(key, JWSAlgorithm.ES256);
        int port = NodeProcesses.freePort();
        resource = "http://127.0.0.1:" + port + "/mcp";
        Files.createDirectories(OUT);
        Path policy = Files.writeString(OUT.resolve("policy.yaml"), """
                default: deny
                agents: { allow: [agent-cli] }
                tools:
                  whoami: { scopes: [notes:read] }
                """);
        String yaml = """
                listen: { host: 127.0.0.1, port: %d }
                admin: { host: 127.0.0.1, port: 0 }
                issuers:
                  - issuer: %s
                    claims: keycloak
                    algorithms: [RS256, ES256]   # RS256: Keycloak's tokens; ES256: the clients' DPoP proofs
                routes:
                  - name: notes
                    path: /mcp
                    upstream: %s
                    resource: %s
                    resource-aliases: [portcullis]
                    scopes: [notes:read]
                    policy: %s
                    dpop: required
                    upstream-auth:                 # the gateway's own token (Keycloak will not exchange a bound one)
                      type: client-credentials
                      client-id: mcp-agent
                      client-secret: mcp-agent-secret
                      scopes: [notes:read]
                  - name: exchanged
                    path: /exchanged
                    upstream: %s
                    resource: %s
                    resource-aliases: [portcullis]
                    scopes: [notes:read]
                    policy: %s
                    dpop: required
                    upstream-auth:
                      type: token-exchange
                      client-id: portcullis
                      client-secret: portcullis-secret
                      audience: notes-upstream
                      scopes: [notes:read]
                """.formatted(port, keycloak.issuer(), upstream.url(), resource, policy, upstream.url(),
                exchangedResource(), policy);
        gateway = Gateway.start(ConfigLoader.parse(yaml, "keycloak-dpop.yaml"));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!gateway.ready() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(gateway.ready()).as("signing keys discovered from the realm's metadata").isTrue();
    }

    private static String exchangedResource() {
        return resource.replace("/mcp", "/exchanged");
    }

    @AfterAll
    static void stop() {
        if (gateway != null) gateway.close();
        if (upstream != null) upstream.close();
    }

    private static String proof(String htm, String url, String accessToken) throws Exception {
        return proofs.createDPoPJWT(new JWTID(), htm, URI.create(url), new java.util.Date(),
                accessToken == null ? null : new DPoPAccessToken(accessToken), null).serialize();
    }

    private static HttpResponse<String> post(String authorization, String proof, String session, String body) throws Exception {
        return post(resource, authorization, proof, session, body);
    }

    private static HttpResponse<String> post(String url, String authorization, String proof, String session, String body)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .header("MCP-Protocol-Version", "2025-06-18")
                .header("Authorization", authorization)
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (proof != null) b.header("DPoP", proof);
        if (session != null) b.header("Mcp-Session-Id", session);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode message(HttpResponse<String> response) throws Exception {
        String body = response.body();
        if (response.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
            body = body.lines().filter(l -> l.startsWith("data:")).map(l -> l.substring(5).trim()).reduce((a, b) -> b).orElse("");
        }
        return JSON.readTree(body);
    }

    @Test
    void keycloakDpopBoundTokenWithRealProofsCallsAToolThroughTheGateway() throws Exception {
        JsonNode tokens = keycloak.token("agent-cli", "agent-cli-secret", Map.of("grant_type", "password",
                        "username", "alice", "password", "alice-password", "scope", "notes:read"),
                Map.of("DPoP", proof("POST", keycloak.tokenEndpoint(), null)));
        assertThat(tokens.path("token_type").asText()).as(tokens.toString()).isEqualTo("DPoP");
        String token = tokens.path("access_token").asText();
        assertThat(KeycloakServer.claims(token).path("cnf").path("jkt").asText())
                .as("Keycloak bound the token to the proof's key").isEqualTo(key.computeThumbprint().toString());

        HttpResponse<String> init = post("DPoP " + token, proof("POST", resource, token), null, "{\"jsonrpc\":\"2.0\",\"id\":1,"
                + "\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                + "\"clientInfo\":{\"name\":\"kc-dpop\",\"version\":\"1\"}}}");
        assertThat(init.statusCode()).as(init.body()).isEqualTo(200);
        String session = init.headers().firstValue("Mcp-Session-Id").orElseThrow();
        post("DPoP " + token, proof("POST", resource, token), session, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
        String callProof = proof("POST", resource, token);
        String whoami = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\",\"arguments\":{}}}";
        HttpResponse<String> call = post("DPoP " + token, callProof, session, whoami);
        assertThat(call.statusCode()).as(call.body()).isEqualTo(200);
        String authorization = message(call).path("result").path("content").path(0).path("text").asText();
        assertThat(authorization).as(call.body()).startsWith("Bearer ");
        String received = authorization.substring("Bearer ".length());
        assertThat(received).as("never the caller's token upstream").isNotEqualTo(token);
        assertThat(KeycloakServer.claims(received).path("azp").asText()).as("the gateway's own token").isEqualTo("mcp-agent");
        assertThat(upstream.requests()).allSatisfy(r -> {
            assertThat(r.headers().keySet()).noneMatch(h -> h.equalsIgnoreCase("DPoP"));
            assertThat(r.headers().toString()).doesNotContain(token);
        });

        int before = upstream.requests().size();
        HttpResponse<String> replayed = post("DPoP " + token, callProof, session, whoami);
        assertThat(replayed.statusCode()).isEqualTo(401);
        assertThat(replayed.headers().firstValue("WWW-Authenticate").orElse(""))
                .startsWith("DPoP error=\"invalid_dpop_proof\", error_description=\"The DPoP proof was used before\"");
        HttpResponse<String> downgraded = post("Bearer " + token, proof("POST", resource, token), session, whoami);
        assertThat(downgraded.statusCode()).isEqualTo(401);
        assertThat(downgraded.headers().firstValue("WWW-Authenticate").orElse("")).startsWith("DPoP error=\"invalid_token\"");
        assertThat(upstream.requests().size()).as("nothing forwarded for the refused ones").isEqualTo(before);
    }

    /**
     * A real peer's answer (Keycloak 26.7.3): it refuses to exchange a DPoP-bound subject token for any client but the one
     * it was issued to ("Sender-constrained token exchange rejected as the token was not issued for the requesting
     * client"). The gateway fails closed: 401 invalid_token for the caller, the upstream never contacted, never the
     * caller's token in its place.
     */
    @Test
    void keycloakWillNotExchangeADpopBoundTokenAndTheGatewayFailsClosed() throws Exception {
        String token = keycloak.token("agent-cli", "agent-cli-secret", Map.of("grant_type", "password",
                        "username", "alice", "password", "alice-password", "scope", "notes:read"),
                Map.of("DPoP", proof("POST", keycloak.tokenEndpoint(), null))).path("access_token").asText();
        int before = upstream.requests().size();
        String url = exchangedResource();
        HttpResponse<String> init = post(url, "DPoP " + token, proof("POST", url, token), null, "{\"jsonrpc\":\"2.0\",\"id\":1,"
                + "\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                + "\"clientInfo\":{\"name\":\"kc-dpop\",\"version\":\"1\"}}}");
        assertThat(init.statusCode()).as(init.body()).isEqualTo(401);
        assertThat(init.headers().firstValue("WWW-Authenticate").orElse("")).contains("error=\"invalid_token\"");
        assertThat(upstream.requests().size()).isEqualTo(before);
    }
}
