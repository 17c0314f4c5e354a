package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Issue 15: {@code deploy/grafana/portcullis-dashboard.json} is a valid dashboard with the panels operators
 * need, and every metric its queries name is one the gateway's {@code /metrics} exposes (a renamed metric
 * would otherwise leave an empty panel).
 */
class GrafanaDashboardTest {
    private static final Path DASHBOARD = Path.of("..", "deploy", "grafana", "portcullis-dashboard.json");
    private static final Pattern METRIC = Pattern.compile("\\b((?:portcullis|jvm|process|netty|system)_[a-z0-9_]+)");

    @Test
    void dashboardParsesAndQueriesOnlyMetricsTheGatewayExposes() throws Exception {
        JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());
        assertThat(dashboard.path("uid").asText()).isEqualTo("portcullis");
        List<String> titles = new ArrayList<>();
        Set<String> queried = new TreeSet<>();
        for (JsonNode panel : dashboard.path("panels")) {
            titles.add(panel.path("title").asText());
            assertThat(panel.path("targets")).as(panel.path("title").asText()).isNotEmpty();
            for (JsonNode target : panel.path("targets")) {
                Matcher m = METRIC.matcher(target.path("expr").asText());
                while (m.find()) {
                    queried.add(m.group(1));
                }
            }
        }
        assertThat(titles).contains("Request rate by decision", "Gateway overhead (p50 / p95 / p99)",
                "Upstream latency (p50 / p95 / p99)", "Token validation failures by reason", "Active SSE streams", "JVM heap");

        String metrics;
        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.start(idp.issuer(), upstream.url(), null, null)) {
            String init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
                    + "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
            assertThat(gw.send(gw.post(init).header("Authorization", "Bearer " + idp.accessToken(RESOURCE, "mcp:tools")).build())
                    .statusCode()).isEqualTo(200);
            assertThat(gw.send(gw.post(init).header("Authorization", "Bearer "
                    + idp.accessToken("https://elsewhere.example.com/mcp", "mcp:tools")).build()).statusCode()).isEqualTo(401);
            System.gc(); // GC pause meters appear with the first collection after start
            GatewayHarness.sleep(200);
            metrics = gw.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.gateway.adminPort() + "/metrics")).build())
                    .body();
        }
        Set<String> exposed = new TreeSet<>();
        metrics.lines().filter(l -> !l.startsWith("#") && !l.isBlank())
                .forEach(l -> exposed.add(l.split("[{ ]", 2)[0]));
        assertThat(queried).isNotEmpty().allSatisfy(name -> assertThat(exposed).as("exposed metrics").contains(name));
    }
}
