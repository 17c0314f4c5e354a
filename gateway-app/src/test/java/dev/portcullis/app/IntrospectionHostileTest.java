package dev.portcullis.app;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static dev.portcullis.app.GatewayHarness.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 16, opaque tokens (RFC 7662) end to end against a hostile introspection endpoint (WireMock): slow, down,
 * lying ({@code active: true} for another audience, an expired token, another issuer; {@code active} missing), not
 * JSON, and ten concurrent requests with one token. Each refusal has its documented status (401 {@code invalid_token}
 * for a token judged bad, 503 + Retry-After when the endpoint cannot judge it) and the upstream never sees the request.
 * Requirement IDs: CHALLENGE-02 (401 invalid_token), PRM-08 (aud), AUTHN-06 (iss), AUTHN-08 (exp), AUTHN-15 (nothing
 * reaches the upstream before authentication), SECURITY-03 (the endpoint is reached through the guarded client).
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class IntrospectionHostileTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String BASIC = "Basic " + Base64.getEncoder().encodeToString("portcullis:introspect-secret".getBytes());

    private static WireMockServer endpoint;
    private static TestIdp idp;
    private static TestMcpServer upstream;
    private static GatewayHarness gw;

    @BeforeAll
    static void start() {
        endpoint = new WireMockServer(options().bindAddress("127.0.0.1").dynamicPort());
        endpoint.start();
        idp = TestIdp.start();
        upstream = TestMcpServer.start();
        gw = GatewayHarness.start(idp.issuer(), upstream.url(), null, """
                introspection:
                  endpoint: http://127.0.0.1:%d/introspect
                  client-id: portcullis
                  client-secret: introspect-secret
                  cache-max: 30s
                  negative-cache: 5s
                  timeout: 2500ms""".formatted(endpoint.port()));
        // A first call warms the gateway's introspection client and WireMock (a cold start on a busy machine can take
        // longer than the timeout); each test then starts from an empty endpoint log.
        endpoint.stubFor(post(urlEqualTo("/introspect")).willReturn(okJson("{\"active\":false}")));
        call("warm-up-token");
    }

    @AfterAll
    static void stop() {
        if (gw != null) gw.close();
        if (upstream != null) upstream.close();
        if (idp != null) idp.close();
        if (endpoint != null) endpoint.stop();
    }

    @BeforeEach
    void reset() {
        endpoint.resetAll();
    }

    private static String active(Map<String, Object> overrides) {
        Instant now = Instant.now();
        Map<String, Object> claims = new LinkedHashMap<>();
        claims.put("active", true);
        claims.put("iss", idp.issuer());
        claims.put("sub", "user-123");
        claims.put("aud", RESOURCE);
        claims.put("client_id", "agent-1");
        claims.put("scope", "mcp:tools");
        claims.put("iat", now.getEpochSecond());
        claims.put("exp", now.plusSeconds(600).getEpochSecond());
        claims.putAll(overrides);
        try {
            return JSON.writeValueAsString(claims);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The endpoint answers {@code answer} for this token only. */
    private static void answer(String token, ResponseDefinitionBuilder answer) {
        endpoint.stubFor(post(urlEqualTo("/introspect")).withRequestBody(containing("token=" + token + "&"))
                .willReturn(answer));
    }

    private static final String INITIALIZE = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
            + "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";

    /** A request the upstream answers 200 once it gets it (an initialize); refused ones never get there. */
    private static HttpResponse<String> call(String token) {
        return gw.send(gw.post(INITIALIZE).header("MCP-Protocol-Version", "2025-06-18")
                .header("Authorization", "Bearer " + token).build());
    }

    private static int upstreamCalls() {
        return (int) upstream.requests().stream().filter(r -> r.method().equals("POST")).count();
    }

    /** The call is refused with {@code status}, nothing reaches the upstream. */
    private static HttpResponse<String> refused(String token, int status) {
        int before = upstreamCalls();
        HttpResponse<String> response = call(token);
        assertThat(response.statusCode()).as(token + ": " + response.body()).isEqualTo(status);
        assertThat(upstreamCalls()).as(token + ": the upstream is never contacted").isEqualTo(before);
        return response;
    }

    private static void invalidToken(String token) {
        HttpResponse<String> response = refused(token, 401);
        assertThat(response.headers().firstValue("WWW-Authenticate").orElse("")).startsWith("Bearer error=\"invalid_token\"");
    }

    private static void unavailable(String token) {
        HttpResponse<String> response = refused(token, 503);
        assertThat(response.headers().firstValue("Retry-After")).hasValue("5");
        assertThat(response.headers().firstValue("WWW-Authenticate")).isEmpty();
    }

    @Test
    void anActiveOpaqueTokenReachesTheUpstreamWhichNeverSeesIt() {
        answer("opaque-good", okJson(active(Map.of())));
        int before = upstreamCalls();
        HttpResponse<String> response = call("opaque-good");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(upstreamCalls()).isEqualTo(before + 1);
        assertThat(upstream.requests()).allSatisfy(r -> assertThat(r.headers().toString() + r.body()).doesNotContain("opaque-good"));
        // Client authentication as at a token endpoint (client_secret_basic); the token and its hint in the form.
        endpoint.verify(1, postRequestedFor(urlEqualTo("/introspect"))
                .withHeader("Authorization", equalTo(BASIC))
                .withHeader("Content-Type", equalTo("application/x-www-form-urlencoded"))
                .withRequestBody(equalTo("token=opaque-good&token_type_hint=access_token")));
        // A kept answer: no second call.
        assertThat(call("opaque-good").statusCode()).isEqualTo(200);
        endpoint.verify(1, postRequestedFor(urlEqualTo("/introspect")));
    }

    /** CHALLENGE-02: {@code active: false} is 401 invalid_token, remembered for negative-cache. */
    @Test
    void activeFalseIs401InvalidTokenAndTheUpstreamIsNeverContacted() {
        answer("opaque-revoked", okJson("{\"active\":false}"));
        invalidToken("opaque-revoked");
        invalidToken("opaque-revoked");
        endpoint.verify(1, postRequestedFor(urlEqualTo("/introspect")));
    }

    /** PRM-08, AUTHN-06, AUTHN-08: the lying endpoint's {@code active: true} does not make a bad token good. */
    @Test
    void aLyingEndpointsActiveTrueForAnotherAudienceAnExpiredTokenOrAnotherIssuerIsRefused() {
        Instant now = Instant.now();
        answer("lie-aud", okJson(active(Map.of("aud", "https://elsewhere.example.com/mcp"))));
        answer("lie-exp", okJson(active(Map.of("exp", now.minusSeconds(300).getEpochSecond(),
                "iat", now.minusSeconds(900).getEpochSecond()))));
        answer("lie-iss", okJson(active(Map.of("iss", "https://evil.example.com"))));
        answer("lie-nbf", okJson(active(Map.of("nbf", now.plusSeconds(600).getEpochSecond()))));
        for (String token : List.of("lie-aud", "lie-exp", "lie-iss", "lie-nbf")) {
            invalidToken(token);
        }
    }

    @Test
    void anAnswerThatIsNotAnIntrospectionResponseIs503() {
        answer("no-active", okJson("{\"sub\":\"user-123\",\"aud\":\"" + RESOURCE + "\"}"));
        answer("not-json", aResponse().withStatus(200).withHeader("Content-Type", "text/html").withBody("<html>ok</html>"));
        answer("server-error", aResponse().withStatus(500).withBody("{\"active\":true}"));
        answer("client-refused", aResponse().withStatus(401).withBody("{\"error\":\"invalid_client\"}"));
        for (String token : List.of("no-active", "not-json", "server-error", "client-refused")) {
            unavailable(token);
        }
    }

    /** The endpoint does not answer within the timeout (2.5s): 503 soon, and the gateway keeps serving meanwhile. */
    @Test
    void aSlowEndpointIs503AfterTheTimeoutAndBlocksNothingMeanwhile() throws Exception {
        answer("slow-token", okJson(active(Map.of())).withFixedDelay(6_000));
        ExecutorService callers = Executors.newFixedThreadPool(4);
        try {
            List<CompletableFuture<HttpResponse<String>>> slow = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < 4; i++) {
                slow.add(CompletableFuture.supplyAsync(() -> call("slow-token"), callers));
            }
            // While those wait, a JWT request is answered at once: no event loop is held by the slow endpoint.
            String jwt = idp.accessToken(RESOURCE, "mcp:tools");
            long j0 = System.nanoTime();
            HttpResponse<String> other = call(jwt);
            long jwtMillis = (System.nanoTime() - j0) / 1_000_000;
            assertThat(other.statusCode()).as(other.body()).isEqualTo(200);
            assertThat(jwtMillis).as("a JWT request while introspection hangs").isLessThan(2_000);
            for (CompletableFuture<HttpResponse<String>> waiting : slow) {
                HttpResponse<String> response = waiting.get(10, TimeUnit.SECONDS);
                assertThat(response.statusCode()).isEqualTo(503);
                assertThat(response.headers().firstValue("Retry-After")).hasValue("5");
            }
            long millis = (System.nanoTime() - t0) / 1_000_000;
            assertThat(millis).as("refused after the 2.5s timeout, not after the endpoint's 6s").isLessThan(5_000);
        } finally {
            callers.shutdownNow();
        }
    }

    @Test
    void aDownEndpointIs503() throws Exception {
        int port = GatewayHarness.freePort(); // nothing listens there
        try (GatewayHarness down = GatewayHarness.start(idp.issuer(), upstream.url(), null, """
                introspection:
                  endpoint: http://127.0.0.1:%d/introspect
                  client-id: portcullis
                  client-secret: introspect-secret""".formatted(port))) {
            int before = upstreamCalls();
            HttpResponse<String> response = down.send(down.post(toolCall(1, "echo"))
                    .header("Authorization", "Bearer opaque-while-down").build());
            assertThat(response.statusCode()).isEqualTo(503);
            assertThat(response.headers().firstValue("Retry-After")).hasValue("5");
            assertThat(upstreamCalls()).isEqualTo(before);
        }
    }

    /** Single-flight: ten concurrent requests with one token make exactly one introspection call. */
    @Test
    void tenConcurrentRequestsWithOneTokenMakeExactlyOneIntrospectionCall() throws Exception {
        answer("shared-opaque", okJson(active(Map.of())).withFixedDelay(300));
        ExecutorService callers = Executors.newFixedThreadPool(10);
        try {
            List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                calls.add(CompletableFuture.supplyAsync(() -> call("shared-opaque"), callers));
            }
            for (CompletableFuture<HttpResponse<String>> c : calls) {
                assertThat(c.get(20, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
            }
        } finally {
            callers.shutdownNow();
        }
        endpoint.verify(1, postRequestedFor(urlEqualTo("/introspect")));
    }

    /** A JWT of the issuer goes the JWT path (tokens: opaque): never sent to the introspection endpoint. */
    @Test
    void aJwtIsVerifiedLocallyAndNeverIntrospectedWithTokensOpaque() {
        HttpResponse<String> response = call(idp.accessToken(RESOURCE, "mcp:tools"));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        endpoint.verify(0, postRequestedFor(urlEqualTo("/introspect")));
        // A forged JWS (a real header and claims, a wrong signature) is refused on the JWT path, not introspected.
        String[] parts = idp.accessToken(RESOURCE, "mcp:tools").split("\\.");
        invalidToken(parts[0] + "." + parts[1] + "." + new StringBuilder(parts[2]).reverse());
        endpoint.verify(0, postRequestedFor(urlEqualTo("/introspect")));
    }
}
