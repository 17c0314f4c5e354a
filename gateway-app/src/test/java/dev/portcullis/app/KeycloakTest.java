package dev.portcullis.app;

import static dev.portcullis.app.NodeProcesses.findNode;
import static dev.portcullis.app.NodeProcesses.step;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The gateway with a real Keycloak (issue 15): {@code config/examples/keycloak.yaml} as shipped (hosts, ports and
 * the policy path replaced) in front of the Java test MCP server, Keycloak started once for the run with
 * {@code src/test/resources/keycloak/mcp-realm.json}.
 *
 * <ul>
 *   <li>A user's token (password grant, {@code typ: JWT}) is accepted under the {@code keycloak} preset, and
 *       the gateway performs Keycloak's standard token exchange (V2) with the token endpoint and client
 *       authentication it discovered: the upstream receives a token with {@code aud} = the upstream's client,
 *       {@code sub} = the user's, the scopes narrowed to the route's, {@code azp} = the gateway; never the user's.</li>
 *   <li>The TypeScript SDK client discovers Keycloak from the gateway's 401 and metadata and obtains a
 *       client-credentials token from Keycloak on its own.</li>
 * </ul>
 *
 * Run alone: {@code mvn -pl gateway-app -am verify -Dtest=KeycloakTest -Dsurefire.failIfNoSpecifiedTests=false}
 * (tag {@code keycloak}; {@code -Dkeycloak.skip} leaves it out).
 */
@Tag("keycloak")
@Tag("interop")
@ExtendWith(KeycloakServer.Extension.class)
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class KeycloakTest {
    private static final Path MODULE_DIR =
            Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
    private static final Path EXAMPLE = MODULE_DIR.getParent().resolve("config/examples/keycloak.yaml");
    private static final Path OUT = MODULE_DIR.resolve("target/keycloak-test");
    private static final Path NODE_DIR = MODULE_DIR.resolve("src/test/node");
    private static final String GATEWAY_SECRET = "portcullis-secret"; // the realm's, test-only
    private static final ObjectMapper JSON = new ObjectMapper();

    private static KeycloakServer keycloak;
    private static TestMcpServer upstream;
    private static Gateway gateway;
    private static String resource;
    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        keycloak = KeycloakServer.Extension.server();
        upstream = TestMcpServer.start();
        int port = NodeProcesses.freePort();
        resource = "http://127.0.0.1:" + port + "/mcp";
        Files.createDirectories(OUT);
        Path policy = OUT.resolve("policy.yaml");
        Files.writeString(policy, """
                default: deny
                agents: { allow: [agent-cli, mcp-agent] }
                tools:
                  whoami: { scopes: [notes:read] }
                  echo:   { scopes: [notes:read] }
                """);
        String yaml = replaceAll(Files.readString(EXAMPLE), Map.of(
                "https://keycloak.example.com", "http://127.0.0.1:" + keycloak.port(),
                "https://mcp.example.com/mcp", resource,
                "http://127.0.0.1:3000/mcp", upstream.url(),
                "  host: 0.0.0.0\n  port: 8443", "  host: 127.0.0.1\n  port: " + port,
                "admin: { host: 127.0.0.1, port: 9090 }", "admin: { host: 127.0.0.1, port: 0 }",
                "policy: policies/notes.yaml", "policy: " + policy));
        Path config = OUT.resolve("gateway.yaml");
        Files.writeString(config, yaml);
        gateway = Gateway.start(ConfigLoader.load(config, name -> name.equals("PORTCULLIS_CLIENT_SECRET") ? GATEWAY_SECRET : null));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!gateway.ready() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(gateway.ready()).as("signing keys discovered from the realm's metadata").isTrue();
    }

    /** Each text must occur in the example, so the test notices when the example changes under it. */
    private static String replaceAll(String text, Map<String, String> replacements) {
        String out = text;
        for (Map.Entry<String, String> r : replacements.entrySet()) {
            assertThat(out).as("config/examples/keycloak.yaml contains %s", r.getKey()).contains(r.getKey());
            out = out.replace(r.getKey(), r.getValue());
        }
        return out;
    }

    @AfterAll
    static void stop() {
        if (gateway != null) gateway.close();
        if (upstream != null) upstream.close();
        if (keycloak != null) {
            System.out.println("[keycloak] started in " + keycloak.startup().toMillis() + " ms");
        }
    }

    private static HttpResponse<String> post(String token, String sessionId, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(resource)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .header("MCP-Protocol-Version", "2025-06-18")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (token != null) b.header("Authorization", "Bearer " + token);
        if (sessionId != null) b.header("Mcp-Session-Id", sessionId);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The JSON-RPC message of a JSON or SSE answer. */
    private static JsonNode message(HttpResponse<String> response) throws Exception {
        String body = response.body();
        if (response.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
            body = body.lines().filter(l -> l.startsWith("data:")).map(l -> l.substring(5).trim()).reduce((a, b) -> b).orElse("");
        }
        return JSON.readTree(body);
    }

    @Test
    void userTokenIsExchangedByKeycloakStandardTokenExchangeForTheUpstream() throws Exception {
        String userToken = keycloak.passwordGrant("agent-cli", "agent-cli-secret", "alice", "alice-password",
                "notes:read notes:write");
        JsonNode user = KeycloakServer.claims(userToken);
        assertThat(KeycloakServer.header(userToken).path("typ").asText()).as("Keycloak issues typ: JWT").isEqualTo("JWT");
        assertThat(user.path("scope").asText()).contains("notes:read").contains("notes:write");

        HttpResponse<String> init = post(userToken, null, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
                + "\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"kc\",\"version\":\"1\"}}}");
        assertThat(init.statusCode()).as(init.body()).isEqualTo(200);
        String session = init.headers().firstValue("Mcp-Session-Id").orElse(null);
        post(userToken, session, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
        HttpResponse<String> call = post(userToken, session,
                "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\",\"arguments\":{}}}");
        assertThat(call.statusCode()).as(call.body()).isEqualTo(200);
        String authorization = message(call).path("result").path("content").path(0).path("text").asText();
        assertThat(authorization).as(call.body()).startsWith("Bearer ");
        String received = authorization.substring("Bearer ".length());

        assertThat(received).as("never the caller's token upstream").isNotEqualTo(userToken);
        JsonNode upstreamClaims = KeycloakServer.claims(received);
        assertThat(upstreamClaims.path("iss").asText()).isEqualTo(keycloak.issuer());
        assertThat(audiences(upstreamClaims)).as("aud = the upstream's client").containsExactly("notes-upstream");
        assertThat(upstreamClaims.path("sub").asText()).as("the user's sub").isEqualTo(user.path("sub").asText()).isNotEmpty();
        assertThat(upstreamClaims.path("azp").asText()).as("issued to the gateway's client").isEqualTo("portcullis");
        assertThat(List.of(upstreamClaims.path("scope").asText().split(" "))).as("narrowed to the route's scopes")
                .contains("notes:read").doesNotContain("notes:write");
        assertThat(upstreamClaims.has("act")).as("Keycloak adds no act claim").isFalse();
    }

    @Test
    void keycloakIdTokenIsRefusedAndUpstreamNeverContacted() throws Exception {
        // AUTHN-09: a Keycloak ID token names its client in aud; for the gateway's own client that is the resource
        // alias "portcullis", so only the token type tells it from an access token (claim typ: ID, not Bearer).
        JsonNode tokens = keycloak.token("portcullis", GATEWAY_SECRET, Map.of("grant_type", "password",
                "username", "alice", "password", "alice-password", "scope", "openid"));
        int before = upstream.requests().size();
        String idToken = tokens.path("id_token").asText(null);
        assertThat(idToken).as("Keycloak answers scope openid with an ID token").isNotNull();
        assertThat(KeycloakServer.claims(idToken).path("aud").toString()).contains("portcullis");
        assertThat(KeycloakServer.claims(idToken).path("typ").asText()).isEqualTo("ID");
        HttpResponse<String> refused = post(idToken, null, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
        assertThat(refused.statusCode()).isEqualTo(401);
        assertThat(refused.headers().firstValue("WWW-Authenticate").orElse("")).contains("invalid_token");
        assertThat(post("garbage", null, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}").statusCode()).isEqualTo(401);
        assertThat(upstream.requests().size()).isEqualTo(before);
    }

    @Test
    void typeScriptClientDiscoversKeycloakAndGetsAClientCredentialsToken() throws Exception {
        NodeProcesses.requireInstalled(NODE_DIR, "@modelcontextprotocol/sdk");
        String message = "via keycloak " + UUID.randomUUID();
        Map<String, String> env = new LinkedHashMap<>();
        env.put("MCP_URL", resource);
        env.put("CLIENT_ID", "mcp-agent");
        env.put("CLIENT_SECRET", "mcp-agent-secret");
        env.put("SCOPE", "notes:read");
        env.put("EXPECTED_ISSUER", keycloak.issuer());
        env.put("ECHO_MESSAGE", message);
        env.put("ECHO_ARGUMENT", "text");
        env.put("CLIENT_TIMEOUT_SECONDS", "110");
        NodeProcesses.Run run = NodeProcesses.run("keycloak-client-credentials", List.of(findNode(), "client-credentials.mjs"),
                NODE_DIR, env, Duration.ofSeconds(120), () -> "--- keycloak (tail) ---\n" + keycloak.tail());
        assertThat(run.exitCode()).as(run::diagnostics).isZero();

        int challenged = run.indexOf(0, "401 without a token", r -> "http".equals(r.path("step").asText())
                && r.path("url").asText().equals(resource) && r.path("status").asInt() == 401);
        int metadata = run.indexOf(challenged + 1, "Keycloak's metadata", r -> "http".equals(r.path("step").asText())
                && r.path("url").asText().startsWith("http://127.0.0.1:" + keycloak.port() + "/.well-known/")
                && r.path("status").asInt() == 200);
        int token = run.indexOf(metadata + 1, "client_credentials at Keycloak", r -> "token".equals(r.path("kind").asText())
                && r.path("url").asText().equals(keycloak.tokenEndpoint()) && r.path("status").asInt() == 200);
        assertThat(run.records().get(token).path("grant_type").asText()).isEqualTo("client_credentials");
        int called = run.indexOf(token + 1, "callTool", step("callTool"));
        assertThat(run.records().get(called).path("text").asText()).as(run::diagnostics).isEqualTo(message);
        run.indexOf(called + 1, "done", step("done"));
        assertThat(run.stdout()).doesNotContain("mcp-agent-secret");
    }

    private static List<String> audiences(JsonNode claims) {
        JsonNode aud = claims.path("aud");
        if (aud.isArray()) {
            List<String> out = new java.util.ArrayList<>();
            aud.forEach(a -> out.add(a.asText()));
            return out;
        }
        return List.of(aud.asText());
    }
}
