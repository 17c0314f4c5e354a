package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static dev.portcullis.app.GatewayHarness.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Health stage: readiness follows the issuers' keys; requests fail closed while keys are missing (SECURITY-11). */
class AdminAndReadinessTest {
    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> admin(Gateway gateway, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.adminPort() + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void notReadyAndFailingClosedUntilTheIssuerKeysLoad() throws Exception {
        int idpPort = GatewayHarness.freePort();
        String issuer = "http://127.0.0.1:" + idpPort + "/default";
        try (TestMcpServer upstream = TestMcpServer.start()) {
            String yaml = """
                    listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1] }
                    admin: { host: 127.0.0.1, port: 0 }
                    issuers: [ { issuer: %s, require-access-token-type: false, algorithms: [RS256] } ]
                    routes: [ { name: t, path: /mcp, upstream: %s, resource: %s } ]
                    """.formatted(issuer, upstream.url(), RESOURCE);
            Gateway gateway = Gateway.start(ConfigLoader.parse(yaml, "t.yaml"));
            try {
                assertThat(admin(gateway, "/healthz").statusCode()).isEqualTo(200);
                assertThat(admin(gateway, "/readyz").statusCode()).isEqualTo(503);

                try (TestIdp idp = TestIdp.start(idpPort)) {
                    String token = idp.accessToken(RESOURCE, "mcp:tools");
                    // The IdP is up now; the first request with a token loads the keys.
                    HttpResponse<String> call = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + "/mcp"))
                            .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                            .header("Accept", "application/json, text/event-stream")
                            .POST(HttpRequest.BodyPublishers.ofString("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                                    + "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}"))
                            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                    assertThat(call.statusCode()).isEqualTo(200);
                    assertThat(admin(gateway, "/readyz").statusCode()).isEqualTo(200);
                }
                HttpResponse<String> metrics = admin(gateway, "/metrics");
                assertThat(metrics.statusCode()).isEqualTo(200);
                assertThat(metrics.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
            } finally {
                gateway.close();
            }
        }
    }

    @Test
    void tokensGet503WithRetryAfterWhileNoKeysCanBeLoaded() throws Exception {
        int idpPort = GatewayHarness.freePort();
        try (TestIdp idp = TestIdp.start(idpPort)) {
            String token = idp.accessToken(RESOURCE, "mcp:tools");
            String issuer = idp.issuer();
            idp.stop();
            try (TestMcpServer upstream = TestMcpServer.start();
                 GatewayHarness gw = startUnready(issuer, upstream.url())) {
                HttpResponse<String> response = gw.send(gw.post(toolCall(5, "echo")).header("Authorization", "Bearer " + token).build());
                assertThat(response.statusCode()).isEqualTo(503);
                assertThat(response.headers().firstValue("Retry-After")).isPresent();
                assertThat(response.body()).contains("\"code\":-32603");
                assertThat(upstream.requests()).isEmpty();
            }
        }
    }

    private static GatewayHarness startUnready(String issuer, String upstream) {
        String yaml = """
                listen: { host: 127.0.0.1, port: 0, allowed-hosts: [127.0.0.1] }
                admin: { host: 127.0.0.1, port: 0 }
                issuers: [ { issuer: %s, require-access-token-type: false, algorithms: [RS256] } ]
                routes: [ { name: t, path: /mcp, upstream: %s, resource: %s } ]
                """.formatted(issuer, upstream, RESOURCE);
        return GatewayHarness.wrap(Gateway.start(ConfigLoader.parse(yaml, "t.yaml")));
    }
}
