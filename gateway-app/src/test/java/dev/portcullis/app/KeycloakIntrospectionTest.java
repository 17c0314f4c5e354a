package dev.portcullis.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.testing.KeycloakServer;
import dev.portcullis.testing.TestMcpServer;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Token introspection (RFC 7662) with a real peer (issue 16): Keycloak 26 issues only JWTs, and introspection is how a
 * gateway sees one revoked. The issuer is configured with {@code introspection: {tokens: all}} and no endpoint (it is
 * discovered from the realm's metadata, {@code introspection_endpoint}); the gateway authenticates there as the realm's
 * {@code portcullis} client, which Keycloak's tokens name in {@code aud} (Keycloak answers {@code active: true} only to
 * a client in the token's audience: TEST-PEERS.md).
 *
 * <p>A user's token is accepted (its signature checked locally, and active at Keycloak); once the client that obtained it
 * revokes it at Keycloak's revocation endpoint (RFC 7009), the gateway refuses it with 401 {@code invalid_token} as soon
 * as the cached positive answer runs out ({@code cache-max: 2s} here), and the upstream never sees that request.
 *
 * <p>Runs with the other Keycloak tests (tag {@code keycloak}; {@code -Dkeycloak.skip} leaves it out).
 */
@Tag("keycloak")
@Tag("interop")
@ExtendWith(KeycloakServer.Extension.class)
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class KeycloakIntrospectionTest {
    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static final String INITIALIZE = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
            + "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"kc-introspect\",\"version\":\"1\"}}}";

    private static KeycloakServer keycloak;
    private static TestMcpServer upstream;
    private static Gateway gateway;
    private static String resource;

    @BeforeAll
    static void start() throws Exception {
        keycloak = KeycloakServer.Extension.server();
        upstream = TestMcpServer.start();
        int port = NodeProcesses.freePort();
        resource = "http://127.0.0.1:" + port + "/mcp";
        String yaml = """
                listen: { host: 127.0.0.1, port: %d }
                admin: { host: 127.0.0.1, port: 0 }
                issuers:
                  - issuer: %s
                    claims: keycloak
                    introspection:              # endpoint discovered: introspection_endpoint of the realm
                      client-id: portcullis
                      client-secret: portcullis-secret
                      tokens: all               # Keycloak's tokens are JWTs: introspect them to see revocation
                      cache-max: 2s
                      negative-cache: 1s
                routes:
                  - name: notes
                    path: /mcp
                    upstream: %s
                    resource: %s
                    resource-aliases: [portcullis]
                    scopes: [notes:read]
                """.formatted(port, keycloak.issuer(), upstream.url(), resource);
        gateway = Gateway.start(ConfigLoader.parse(yaml, "keycloak-introspection.yaml"));
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!gateway.ready() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(gateway.ready()).as("signing keys discovered from the realm's metadata").isTrue();
    }

    @AfterAll
    static void stop() {
        if (gateway != null) gateway.close();
        if (upstream != null) upstream.close();
    }

    private static HttpResponse<String> initialize(String token) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(resource)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString(INITIALIZE)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static int upstreamPosts() {
        return (int) upstream.requests().stream().filter(r -> r.method().equals("POST")).count();
    }

    /** RFC 7009 at Keycloak, as the client the token was issued to (only that client may revoke it). */
    private static int revoke(String clientId, String secret, String token) throws Exception {
        String basic = Base64.getEncoder().encodeToString((clientId + ":" + secret).getBytes(StandardCharsets.UTF_8));
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(keycloak.issuer() + "/protocol/openid-connect/revoke"))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Authorization", "Basic " + basic)
                .POST(HttpRequest.BodyPublishers.ofString("token=" + URLEncoder.encode(token, StandardCharsets.UTF_8)
                        + "&token_type_hint=access_token")).build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode();
    }

    private static String metrics() throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.adminPort() + "/metrics"))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    @Test
    void aKeycloakTokenIsAcceptedWhileActiveAndRefusedOnceRevokedWithoutReachingTheUpstream() throws Exception {
        String token = keycloak.passwordGrant("agent-cli", "agent-cli-secret", "alice", "alice-password", "notes:read");
        assertThat(KeycloakServer.claims(token).path("aud").toString()).as("Keycloak names the gateway's client in aud")
                .contains("portcullis");

        HttpResponse<String> accepted = initialize(token);
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(200);
        assertThat(metrics()).as("the token was introspected at Keycloak, and found active")
                .containsPattern("portcullis_introspection_requests_total\\{[^}]*outcome=\"active\"[^}]*} [1-9]");

        assertThat(revoke("agent-cli", "agent-cli-secret", token)).isEqualTo(200);
        // The positive answer is kept at most cache-max (2s): after that, Keycloak's answer is active: false.
        Thread.sleep(2_500);
        int before = upstreamPosts();
        HttpResponse<String> refused = initialize(token);
        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(401);
        assertThat(refused.headers().firstValue("WWW-Authenticate").orElse(""))
                .startsWith("Bearer error=\"invalid_token\", error_description=\"The access token is not active\"");
        assertThat(upstreamPosts()).as("the upstream never sees the revoked token's request").isEqualTo(before);
        assertThat(metrics()).containsPattern("portcullis_introspection_requests_total\\{[^}]*outcome=\"inactive\"[^}]*} [1-9]");

        // Another user's token of the same realm is unaffected.
        String other = keycloak.passwordGrant("agent-cli", "agent-cli-secret", "alice", "alice-password", "notes:read");
        assertThat(initialize(other).statusCode()).isEqualTo(200);
    }

    @Test
    void aGarbageTokenIsRefusedAndAnOpaqueOneIsAskedAboutAtKeycloak() throws Exception {
        // With tokens: all, a token that is not a JWS is an opaque token of this issuer: Keycloak answers active: false.
        int before = upstreamPosts();
        HttpResponse<String> refused = initialize("not-a-keycloak-token-" + System.nanoTime());
        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(401);
        assertThat(refused.headers().firstValue("WWW-Authenticate").orElse("")).startsWith("Bearer error=\"invalid_token\"");
        assertThat(upstreamPosts()).isEqualTo(before);
    }
}
