package dev.portcullis.app;

import dev.portcullis.app.config.ConfigLoader;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;

/**
 * Starts an in-process Portcullis on 127.0.0.1 from a YAML text and offers raw HTTP helpers,
 * so tests can assert exact statuses and headers.
 */
final class GatewayHarness implements AutoCloseable {
    static final String RESOURCE = "https://gw.example.com/mcp";
    static final String PRM_URL = "https://gw.example.com/.well-known/oauth-protected-resource/mcp";

    final Gateway gateway;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private GatewayHarness(Gateway gateway) {
        this.gateway = gateway;
    }

    /** A gateway with one route {@code /mcp} to {@code upstream}, trusting {@code issuer} (JWKS discovered). */
    static GatewayHarness start(String issuer, String upstream, String extraRouteYaml, String extraIssuerYaml) {
        return startYaml(config(issuer, upstream, "allowed-hosts: [127.0.0.1], max-body-size: 64KiB",
                "algorithms: [RS256, ES256]\n" + nullToEmpty(extraIssuerYaml), "scopes: [mcp:tools]\n" + nullToEmpty(extraRouteYaml)));
    }

    /**
     * The configuration of a gateway on 127.0.0.1 (free ports) with one issuer (access tokens of type
     * {@code JWT} accepted, JWKS discovered) and one route {@code test}: {@code /mcp} to {@code upstream}
     * for {@link #RESOURCE}; {@code listenYaml} adds keys to {@code listen} (flow style, e.g.
     * {@code "allowed-hosts: [127.0.0.1], request-timeout: 2s"}), the other two add lines to the issuer and the route.
     */
    static String config(String issuer, String upstream, String listenYaml, String issuerYaml, String routeYaml) {
        return """
                listen: { host: 127.0.0.1, port: 0%s }
                admin: { host: 127.0.0.1, port: 0 }
                issuers:
                  - issuer: %s
                    require-access-token-type: false
                %s
                routes:
                  - name: test
                    path: /mcp
                    upstream: %s
                    resource: %s
                %s
                """.formatted(listenYaml.isBlank() ? "" : ", " + listenYaml, issuer, indent(issuerYaml), upstream, RESOURCE,
                indent(routeYaml));
    }

    private static String nullToEmpty(String yaml) {
        return yaml == null ? "" : yaml;
    }

    static GatewayHarness startYaml(String yaml) {
        Gateway gateway = Gateway.start(ConfigLoader.parse(yaml, "test-gateway.yaml"));
        GatewayHarness harness = new GatewayHarness(gateway);
        harness.awaitReady();
        return harness;
    }

    /** Wraps a gateway without waiting for readiness (tests of the not-ready state). */
    static GatewayHarness wrap(Gateway gateway) {
        return new GatewayHarness(gateway);
    }

    private static String indent(String yaml) {
        if (yaml == null || yaml.isBlank()) return "";
        return yaml.lines().map(l -> "    " + l).reduce((a, b) -> a + "\n" + b).orElse("");
    }

    void awaitReady() {
        Instant deadline = Instant.now().plusSeconds(15);
        while (!gateway.ready()) {
            if (Instant.now().isAfter(deadline)) {
                throw new IllegalStateException("gateway not ready: signing keys not loaded");
            }
            sleep(50);
        }
    }

    String baseUrl() {
        return "http://127.0.0.1:" + gateway.port();
    }

    HttpRequest.Builder post(String body) {
        return HttpRequest.newBuilder(URI.create(baseUrl() + "/mcp"))
                .timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofString(body));
    }

    HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    HttpResponse<String> get(String path) {
        return send(HttpRequest.newBuilder(URI.create(baseUrl() + path)).timeout(Duration.ofSeconds(10)).GET().build());
    }

    static String toolCall(Object id, String tool) {
        String idJson = id instanceof String s ? "\"" + s + "\"" : String.valueOf(id);
        return "{\"jsonrpc\":\"2.0\",\"id\":" + idJson + ",\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":{\"text\":\"hi\"}}}";
    }

    static int freePort() {
        return dev.portcullis.testing.Ports.free(); // below the ephemeral range: no outgoing connection takes it
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        gateway.close();
    }
}
