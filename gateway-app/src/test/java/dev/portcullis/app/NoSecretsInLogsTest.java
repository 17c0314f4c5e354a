package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static dev.portcullis.app.GatewayHarness.toolCall;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import dev.portcullis.testing.McpClients;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.spec.McpSchema;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * SECURITY-05: a full run (a real client session, then every kind of refused token, an upstream
 * failure) with the gateway's loggers at DEBUG, then every captured log line is searched for every
 * token value used and for each token's signature part.
 */
class NoSecretsInLogsTest {
    /** Test peers in the same JVM log their own traffic; they are not the product. */
    private static final List<String> PEERS = List.of("no.nav.security", "okhttp3", "mockwebserver3",
            "org.apache.catalina", "org.apache.tomcat", "org.apache.coyote", "io.modelcontextprotocol");

    @Test
    void noTokenValueAppearsInAnyLogLine() {
        Logger portcullis = (Logger) LoggerFactory.getLogger("dev.portcullis");
        Logger access = (Logger) LoggerFactory.getLogger("portcullis.access");
        Level before = portcullis.getLevel();
        portcullis.setLevel(Level.DEBUG);
        access.setLevel(Level.DEBUG);
        List<String> tokens = new ArrayList<>();
        int linesBefore = CapturingAppender.lines().size();
        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.start(idp.issuer(), upstream.url(), null, null)) {
            // The audit logger has its own (JSON, asynchronous) appender; capture its events as well.
            CapturingAppender auditCapture = new CapturingAppender();
            Logger audit = (Logger) LoggerFactory.getLogger(dev.portcullis.audit.AuditLog.LOGGER);
            auditCapture.setContext(audit.getLoggerContext());
            auditCapture.start();
            audit.addAppender(auditCapture);
            String good = idp.accessToken(RESOURCE, "mcp:tools");
            tokens.add(good);
            try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", good)) {
                client.initialize();
                client.listTools();
                client.callTool(new McpSchema.CallToolRequest("echo", Map.of("text", "x")));
            }
            Instant now = Instant.now();
            tokens.add(idp.accessToken(RESOURCE, "mcp:tools", Map.of("exp", now.minusSeconds(600).getEpochSecond(),
                    "iat", now.minusSeconds(1200).getEpochSecond())));
            tokens.add(idp.accessToken("https://elsewhere.example.com/mcp", "mcp:tools"));
            tokens.add(idp.accessToken(RESOURCE, "mcp:tools", Map.of("iss", "https://evil.example.com")));
            String[] parts = good.split("\\.");
            tokens.add(parts[0] + "." + parts[1] + "." + new StringBuilder(parts[2]).reverse());
            tokens.add("tok-SENTINEL-7f3a");
            for (String token : tokens.subList(1, tokens.size())) {
                gw.send(gw.post(toolCall(1, "echo")).header("Authorization", "Bearer " + token).build());
            }
            gw.send(gw.post(toolCall(1, "echo")).uri(java.net.URI.create(gw.baseUrl() + "/mcp?access_token=" + good)).build());
            gw.send(gw.post(toolCall(1, "echo")).header("Authorization", "Bearer " + good)
                    .header("Authorization", "Bearer tok-SENTINEL-7f3a").build());
            gw.send(gw.post("{not json").header("Authorization", "Bearer " + good).build());
        } finally {
            portcullis.setLevel(before);
            access.setLevel(null);
        }

        List<String> lines = CapturingAppender.lines().subList(linesBefore, CapturingAppender.lines().size()).stream()
                .filter(line -> PEERS.stream().noneMatch(line::startsWith))
                .toList();
        assertThat(lines).as("the run produced gateway log lines").anyMatch(l -> l.startsWith("portcullis.access"));
        assertThat(lines).as("and audit events").anyMatch(l -> l.startsWith("portcullis.audit"));
        for (String token : tokens) {
            String[] parts = token.split("\\.");
            String secretPart = parts.length == 3 ? parts[2] : token;
            assertThat(lines).noneMatch(line -> line.contains(token) || line.contains(secretPart));
        }
    }

    /**
     * SECURITY-05 with token exchange: the caller's token, the exchanged token, the gateway's actor
     * token and its client secret never appear in a log line, while the DEBUG delegation chain does
     * (subject, agent, the gateway as actor, the upstream audience), with token fingerprints only.
     */
    @Test
    void exchangeLogsTheDelegationChainButNoTokenOrSecret() {
        Logger portcullis = (Logger) LoggerFactory.getLogger("dev.portcullis");
        Level before = portcullis.getLevel();
        portcullis.setLevel(Level.DEBUG);
        String secret = "sec-SENTINEL-99ab";
        List<String> secrets = new ArrayList<>();
        int linesBefore = CapturingAppender.lines().size();
        try (TestIdp idp = TestIdp.startWithTokenExchange(); TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.start(idp.issuer(), upstream.url(), """
                     upstream-auth:
                       type: token-exchange
                       token-endpoint: %s
                       client-id: portcullis
                       client-auth: client_secret_post
                       client-secret: %s
                       audience: todo-server
                       scopes: [todo:read]
                       actor-token: true""".formatted(idp.tokenEndpoint(), secret), null)) {
            String caller = idp.accessToken(RESOURCE, "mcp:tools");
            secrets.add(caller);
            secrets.add(secret);
            try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", caller)) {
                client.initialize();
                String seen = McpClients.text(client.callTool(new McpSchema.CallToolRequest("whoami", Map.of())));
                secrets.add(seen.substring("Bearer ".length()));
            }
            idp.tokenRequests().forEach(form -> {
                if (form.containsKey("actor_token")) {
                    secrets.add(form.get("actor_token"));
                }
            });
        } finally {
            portcullis.setLevel(before);
        }

        assertThat(secrets).hasSize(4);
        List<String> lines = CapturingAppender.lines().subList(linesBefore, CapturingAppender.lines().size()).stream()
                .filter(line -> PEERS.stream().noneMatch(line::startsWith))
                .toList();
        assertThat(lines).anyMatch(line -> line.contains("exchanged (rfc8693) subject=" + TestIdp.SUBJECT)
                && line.contains("agent=" + TestIdp.CLIENT_ID) && line.contains("actor=portcullis")
                && line.contains("audience=todo-server") && line.contains("subject_token=sha256:"));
        for (String value : secrets) {
            String[] parts = value.split("\\.");
            String secretPart = parts.length == 3 ? parts[2] : value;
            assertThat(lines).noneMatch(line -> line.contains(value) || line.contains(secretPart));
        }
    }

    /**
     * SECURITY-05 with token introspection (issue 16, RFC 7662): neither the opaque tokens (accepted, inactive, refused
     * for their claims, failing at the endpoint) nor the gateway's introspection client secret appear in any log line,
     * even when the endpoint echoes the token in its error body.
     */
    @Test
    void introspectionLogsNeitherTheTokenNorTheClientSecret() {
        Logger portcullis = (Logger) LoggerFactory.getLogger("dev.portcullis");
        Logger access = (Logger) LoggerFactory.getLogger("portcullis.access");
        Level before = portcullis.getLevel();
        portcullis.setLevel(Level.DEBUG);
        access.setLevel(Level.DEBUG);
        String secret = "intro-SENTINEL-5ecret";
        List<String> secrets = new ArrayList<>(List.of(secret));
        int linesBefore = CapturingAppender.lines().size();
        com.github.tomakehurst.wiremock.WireMockServer endpoint = new com.github.tomakehurst.wiremock.WireMockServer(
                com.github.tomakehurst.wiremock.core.WireMockConfiguration.options().bindAddress("127.0.0.1").dynamicPort());
        endpoint.start();
        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.start(idp.issuer(), upstream.url(), null, """
                     introspection:
                       endpoint: http://127.0.0.1:%d/introspect
                       client-id: portcullis
                       client-auth: client_secret_post
                       client-secret: %s
                       tokens: all
                       timeout: 2s""".formatted(endpoint.port(), secret))) {
            long exp = Instant.now().plusSeconds(600).getEpochSecond();
            Map<String, com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder> answers = new java.util.LinkedHashMap<>();
            answers.put("opq-SENTINEL-active", com.github.tomakehurst.wiremock.client.WireMock.okJson("{\"active\":true,"
                    + "\"sub\":\"u\",\"aud\":\"" + RESOURCE + "\",\"scope\":\"mcp:tools\",\"exp\":" + exp + "}"));
            answers.put("opq-SENTINEL-inactive", com.github.tomakehurst.wiremock.client.WireMock.okJson("{\"active\":false}"));
            answers.put("opq-SENTINEL-audience", com.github.tomakehurst.wiremock.client.WireMock.okJson("{\"active\":true,"
                    + "\"sub\":\"u\",\"aud\":\"https://elsewhere.example.com\",\"exp\":" + exp + "}"));
            answers.put("opq-SENTINEL-echoed", com.github.tomakehurst.wiremock.client.WireMock.aResponse().withStatus(400)
                    .withBody("{\"error\":\"invalid_request\",\"error_description\":\"bad token opq-SENTINEL-echoed\"}"));
            answers.put("opq-SENTINEL-html", com.github.tomakehurst.wiremock.client.WireMock.aResponse().withStatus(200)
                    .withBody("<html>opq-SENTINEL-html</html>"));
            answers.forEach((token, answer) -> endpoint.stubFor(com.github.tomakehurst.wiremock.client.WireMock
                    .post("/introspect").withRequestBody(com.github.tomakehurst.wiremock.client.WireMock.containing(token))
                    .willReturn(answer)));
            String jwt = idp.accessToken(RESOURCE, "mcp:tools");
            endpoint.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post("/introspect")
                    .withRequestBody(com.github.tomakehurst.wiremock.client.WireMock.containing(jwt.split("\\.")[2]))
                    .willReturn(com.github.tomakehurst.wiremock.client.WireMock.okJson("{\"active\":false}")));
            secrets.addAll(answers.keySet());
            secrets.add(jwt);
            for (String token : secrets.subList(1, secrets.size())) {
                gw.send(gw.post(toolCall(1, "echo")).header("Authorization", "Bearer " + token).build());
            }
            assertThat(endpoint.getAllServeEvents()).as("every token was introspected").hasSize(secrets.size() - 1);
        } finally {
            endpoint.stop();
            portcullis.setLevel(before);
            access.setLevel(null);
        }
        List<String> lines = CapturingAppender.lines().subList(linesBefore, CapturingAppender.lines().size()).stream()
                .filter(line -> PEERS.stream().noneMatch(line::startsWith))
                .filter(line -> !line.startsWith("com.github.tomakehurst") && !line.startsWith("org.eclipse.jetty")
                        && !line.startsWith("wiremock"))
                .toList();
        assertThat(lines).as("the introspection outcomes were logged").anyMatch(l -> l.contains("introspection endpoint"));
        for (String value : secrets) {
            String[] parts = value.split("\\.");
            String secretPart = parts.length == 3 ? parts[2] : value;
            assertThat(lines).noneMatch(line -> line.contains(value) || line.contains(secretPart));
        }
    }
}
