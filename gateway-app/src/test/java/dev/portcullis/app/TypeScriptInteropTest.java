package dev.portcullis.app;

import static dev.portcullis.app.NodeProcesses.findNode;
import static dev.portcullis.app.NodeProcesses.freePort;
import static dev.portcullis.app.NodeProcesses.step;
import static dev.portcullis.app.NodeProcesses.stop;
import static dev.portcullis.app.NodeProcesses.tail;
import static dev.portcullis.app.NodeProcesses.tailOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The official TypeScript MCP SDK client (1.x) talks to server-everything through the gateway:
 * once with a token it already holds, once discovering the authorization server from the
 * gateway's 401 challenge and Protected Resource Metadata (CHALLENGE-01, PRM-01..05) and
 * obtaining a token with the client_credentials grant.
 *
 * <p>The Node side lives in {@code src/test/node} (see its README); {@code mvn verify} runs
 * {@code npm ci} there first. Child process output goes to {@code target/interop/}.
 */
@Tag("interop")
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TypeScriptInteropTest {
    private static final String SCOPE = "mcp:tools";
    private static final String CLIENT_ID = "interop-client";
    private static final String CLIENT_SECRET = "interop-secret";
    private static final String EVERYTHING_READY = "MCP Streamable HTTP Server listening on port ";
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(90);
    private static final int TAIL_LINES = 60;

    private static final Path MODULE_DIR =
            Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
    private static final Path NODE_DIR = MODULE_DIR.resolve("src/test/node");
    private static final Path OUT_DIR = MODULE_DIR.resolve("target/interop");
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().idp(TestIdp::startWithResourceAudience).noUpstream()
            .noGateway().build();

    private static String node;
    private static Process everything;
    private static Path everythingLog;
    private static Process everythingSse;
    private static Path everythingSseLog;
    private static TestIdp idp;
    private static String resource;
    private static String metadataUrl;

    @BeforeAll
    static void startPeers() throws Exception {
        for (String pkg : List.of("@modelcontextprotocol/sdk", "@modelcontextprotocol/server-everything")) {
            if (!Files.isDirectory(NODE_DIR.resolve("node_modules").resolve(pkg))) {
                fail(NODE_DIR.resolve("node_modules").resolve(pkg) + " is missing: run npm ci in "
                        + "gateway-app/src/test/node; mvn verify does it via exec-maven-plugin");
            }
        }
        node = findNode();
        Files.createDirectories(OUT_DIR);

        int upstreamPort = freePort();
        everythingLog = OUT_DIR.resolve("server-everything.log");
        ProcessBuilder pb = new ProcessBuilder(node, "--require", "./loopback-preload.cjs",
                "node_modules/@modelcontextprotocol/server-everything/dist/index.js", "streamableHttp")
                .directory(NODE_DIR.toFile())
                .redirectErrorStream(true)
                .redirectOutput(everythingLog.toFile());
        // Its get-env tool hands the whole environment to any caller: give it nothing but PORT.
        // (The executable is an absolute path, so PATH is not needed either.)
        pb.environment().clear();
        pb.environment().put("PORT", Integer.toString(upstreamPort));
        everything = pb.start();
        awaitOutput(everything, everythingLog, EVERYTHING_READY + upstreamPort, STARTUP_TIMEOUT);

        // The same server over the 2024-11-05 HTTP+SSE transport.
        int ssePort = freePort();
        everythingSseLog = OUT_DIR.resolve("server-everything-sse.log");
        ProcessBuilder sse = new ProcessBuilder(node, "--require", "./loopback-preload.cjs",
                "node_modules/@modelcontextprotocol/server-everything/dist/index.js", "sse")
                .directory(NODE_DIR.toFile())
                .redirectErrorStream(true)
                .redirectOutput(everythingSseLog.toFile());
        sse.environment().clear();
        sse.environment().put("PORT", Integer.toString(ssePort));
        everythingSse = sse.start();
        awaitOutput(everythingSse, everythingSseLog, "Server is running on port " + ssePort, STARTUP_TIMEOUT);

        idp = peers.idp();

        // R contains the gateway's port, so the port is chosen before the gateway starts.
        int gatewayPort = freePort();
        resource = "http://127.0.0.1:" + gatewayPort + "/mcp";
        metadataUrl = "http://127.0.0.1:" + gatewayPort + "/.well-known/oauth-protected-resource/mcp";
        String yaml = """
                listen: { host: 127.0.0.1, port: %d }
                admin:  { host: 127.0.0.1, port: 0 }
                issuers:
                %s
                routes:
                  - name: everything
                    path: /mcp
                    upstream: "http://127.0.0.1:%d/mcp"
                    resource: "%s"
                    scopes: ["%s"]
                    upstream-auth: { type: none }
                  - name: everything-with-policy
                    path: /mcp-policy
                    upstream: "http://127.0.0.1:%d/mcp"
                    resource: "%s"
                    scopes: ["%s"]
                    policy: "%s"
                  - name: everything-over-sse
                    path: /legacy
                    transport: sse
                    upstream: "http://127.0.0.1:%d/sse"
                    resource: "%s"
                    scopes: ["%s"]
                    policy: "%s"
                """.formatted(gatewayPort, peers.issuerYaml(), upstreamPort, resource, SCOPE,
                upstreamPort, policyResource(), SCOPE, writePolicy(), ssePort, legacyResource(), SCOPE, writePolicy());
        Files.writeString(OUT_DIR.resolve("gateway.yaml"), yaml);
        assertThat(peers.startGatewayYaml(yaml).gateway.port()).as("gateway listen port").isEqualTo(gatewayPort);
    }

    @AfterAll
    static void stopPeers() {
        stop(everything);
        stop(everythingSse);
    }

    /** The 2024-11-05 HTTP+SSE route (same policy). */
    private static String legacyResource() {
        return resource.substring(0, resource.length() - "/mcp".length()) + "/legacy";
    }

    @Test
    void tsClientOverLegacyHttpSseIsAuthenticatedDecidedAndFiltered() throws Exception {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("MCP_URL", legacyResource());
        env.put("MCP_TOKEN", idp.accessToken(legacyResource(), SCOPE));
        NodeProcesses.Run run = runClient("client-sse", env);

        assertThat(run.exitCode()).as(run::diagnostics).isZero();
        // TRANSPORT-11: the endpoint is the gateway's, on its own origin; the upstream's session id is sealed away.
        String endpoint = run.first("endpoint").path("url").asText();
        assertThat(endpoint).as(run::diagnostics).startsWith(legacyResource() + "/messages?sessionId=")
                .doesNotContain("/message?");
        // POLICY-05 on the stream: the list result arriving as an SSE event is filtered.
        assertThat(run.first("listTools").path("names")).as(run::diagnostics)
                .extracting(JsonNode::asText).containsExactly("echo");
        assertThat(run.first("callTool").path("text").asText()).as(run::diagnostics).contains("over sse");
        assertThat(run.first("hidden").path("code").asInt()).as(run::diagnostics).isEqualTo(-32602);
        run.first("done");
    }

    @Test
    void legacyMessageEndpointIsBoundToItsCaller() throws Exception {
        // Another caller (valid token, other subject) presenting a session id it did not get: 404 (SESSION-07).
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        String mallory = idp.accessToken(legacyResource(), SCOPE);
        var response = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(legacyResource()
                        + "/messages?sessionId=eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAA.BBBB.CCCC"))
                .header("Authorization", "Bearer " + mallory).header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}"))
                .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(404);
    }

    /** The route with a per-tool policy: echo for the baseline scope, get-sum needs more, the rest hidden. */
    private static String policyResource() {
        return resource + "-policy";
    }

    private static String writePolicy() throws Exception {
        Path policy = OUT_DIR.resolve("everything-policy.yaml");
        Files.writeString(policy, """
                default: deny
                tools:
                  echo: { scopes: [%s] }
                  get-sum: { scopes: [%s, mcp:write] }
                """.formatted(SCOPE, SCOPE));
        return policy.toAbsolutePath().toString();
    }

    @Test
    void tsClientSeesTheFilteredToolListAndTheStepUpChallenge() throws Exception {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("MCP_URL", policyResource());
        env.put("MCP_TOKEN", idp.accessToken(policyResource(), SCOPE));
        NodeProcesses.Run run = runClient("client-policy", env);

        assertThat(run.exitCode()).as(run::diagnostics).isZero();
        // POLICY-05: only echo is visible (get-sum needs a step-up; everything else is denied by default).
        assertThat(run.first("listTools").path("names")).as(run::diagnostics)
                .extracting(JsonNode::asText).containsExactly("echo");
        assertThat(run.first("allowed").path("text").asText()).as(run::diagnostics).contains("allowed");
        // CHALLENGE-04/05: 403 insufficient_scope naming the granted plus the missing scope.
        JsonNode stepUp = run.first("stepUp");
        assertThat(stepUp.path("outcome").asText()).as(run::diagnostics).isEqualTo("failed");
        assertThat(stepUp.path("status").asInt()).as(run::diagnostics).isEqualTo(403);
        assertThat(stepUp.path("challenge").asText()).as(run::diagnostics)
                .contains("error=\"insufficient_scope\"", "scope=\"" + SCOPE + " mcp:write\"", "resource_metadata=");
        // JSONRPC-08b: a hidden tool is answered exactly like an unknown one.
        JsonNode hidden = run.first("hidden");
        assertThat(hidden.path("code").asInt()).as(run::diagnostics).isEqualTo(-32602);
        assertThat(hidden.path("message").asText()).as(run::diagnostics).contains("Unknown tool: get-env");
        run.first("done");
    }

    @Test
    void tsClientCallsToolThroughGatewayWithToken() throws Exception {
        String token = idp.accessToken(resource, SCOPE);
        String message = "through portcullis " + UUID.randomUUID();

        Map<String, String> env = new LinkedHashMap<>();
        env.put("MCP_URL", resource);
        env.put("MCP_TOKEN", token); // the environment, not argv: keeps it out of the process list
        env.put("ECHO_MESSAGE", message);
        NodeProcesses.Run run = runClient("client-token", env);

        assertThat(run.exitCode()).as(run::diagnostics).isZero();
        assertThat(run.first("connect").path("session").asBoolean()).as(run::diagnostics).isTrue();
        JsonNode tools = run.first("listTools");
        assertThat(tools.path("count").asInt()).as(run::diagnostics).isPositive();
        assertThat(tools.path("hasEcho").asBoolean()).as(run::diagnostics).isTrue();
        assertThat(run.first("callTool").path("text").asText()).as(run::diagnostics).isEqualTo("Echo: " + message);
        run.first("terminateSession");
        run.first("done");
        assertThat(run.all("transportError")).as(run::diagnostics).isEmpty();
    }

    @Test
    void tsClientCredentialsDiscoversAndAuthenticates() throws Exception {
        String issuer = String.valueOf(idp.issuer());
        String tokenEndpoint = String.valueOf(idp.tokenEndpoint());
        String message = "discovered " + UUID.randomUUID();

        Map<String, String> env = new LinkedHashMap<>();
        env.put("MCP_URL", resource);
        env.put("CLIENT_ID", CLIENT_ID);
        env.put("CLIENT_SECRET", CLIENT_SECRET);
        env.put("SCOPE", SCOPE);
        env.put("EXPECTED_ISSUER", issuer); // the SDK refuses to present the credentials to any other AS
        env.put("ECHO_MESSAGE", message);
        NodeProcesses.Run run = runClient("client-credentials", env);
        assertThat(run.exitCode()).as(run::diagnostics).isZero();

        // 1. No token yet: 401 with the challenge of CHALLENGE-01 / PRM-05.
        int challenged = run.indexOf(0, "POST " + resource + " → 401 without a token", http("POST", resource)
                .and(r -> r.path("status").asInt() == 401));
        JsonNode challenge = run.records().get(challenged);
        assertThat(challenge.path("authorization").asText()).as(run::diagnostics).isEqualTo("none");
        assertThat(challenge.path("wwwAuthenticate").asText()).as(run::diagnostics)
                .startsWith("Bearer ")
                .contains("resource_metadata=\"" + metadataUrl + "\"")
                .contains("scope=\"" + SCOPE + "\"")
                .doesNotContain("error=");

        // 2. The Protected Resource Metadata named by resource_metadata.
        int prm = run.indexOf(challenged + 1, "GET " + metadataUrl + " → 200", http("GET", metadataUrl)
                .and(r -> r.path("status").asInt() == 200));

        // 3. Authorization server metadata, tried in the SDK's order until one answers 200.
        List<String> candidates = authorizationServerMetadataUrls(issuer);
        int asMetadata = run.indexOf(prm + 1, "GET of the IdP metadata (one of " + candidates + ") → 200",
                r -> isHttp(r, "GET") && candidates.contains(r.path("url").asText()) && r.path("status").asInt() == 200);
        List<String> tried = new ArrayList<>();
        for (JsonNode r : run.records().subList(prm + 1, asMetadata + 1)) {
            if (isHttp(r, "GET") && candidates.contains(r.path("url").asText())) {
                tried.add(r.path("url").asText());
            }
        }
        assertThat(candidates).as(run::diagnostics).startsWith(tried.toArray(String[]::new));

        // 4. client_credentials at the token endpoint, with R as the RFC 8707 resource.
        int tokenRequest = run.indexOf(asMetadata + 1, "POST " + tokenEndpoint + " (token request)",
                http("POST", tokenEndpoint).and(r -> "token".equals(r.path("kind").asText())));
        JsonNode token = run.records().get(tokenRequest);
        assertThat(token.path("status").asInt()).as(run::diagnostics).isEqualTo(200);
        assertThat(token.path("grant_type").asText()).as(run::diagnostics).isEqualTo("client_credentials");
        assertThat(token.path("resource").asText()).as(run::diagnostics).isEqualTo(resource);
        assertThat(token.path("scope").asText()).as(run::diagnostics).isEqualTo(SCOPE);
        assertThat(token.path("authorization").asText()).as(run::diagnostics).isEqualTo("basic");
        assertThat(names(token.path("params"))).as(run::diagnostics).contains("grant_type", "resource");

        // 5. The retried request carries the token and gets through; nothing is refused afterwards.
        int retried = run.indexOf(tokenRequest + 1, "POST " + resource + " with the token → 200",
                http("POST", resource).and(r -> "bearer".equals(r.path("authorization").asText())
                        && r.path("status").asInt() == 200));
        for (JsonNode r : run.records().subList(tokenRequest + 1, run.records().size())) {
            if (isHttp(r, null) && r.path("url").asText().equals(resource)) {
                assertThat(r.path("status").asInt()).as(run::diagnostics).isLessThan(400);
            }
        }

        // 6. The MCP steps.
        int connected = run.indexOf(retried + 1, "connect", step("connect"));
        int listed = run.indexOf(connected + 1, "listTools", step("listTools"));
        assertThat(run.records().get(listed).path("hasEcho").asBoolean()).as(run::diagnostics).isTrue();
        int called = run.indexOf(listed + 1, "callTool", step("callTool"));
        assertThat(run.records().get(called).path("text").asText()).as(run::diagnostics).isEqualTo("Echo: " + message);
        run.indexOf(called + 1, "done", step("done"));
        assertThat(run.all("transportError")).as(run::diagnostics).isEmpty();
        assertThat(run.stdout()).as("secrets never reach the log").doesNotContain(CLIENT_SECRET);
    }

    // ---- child processes ----------------------------------------------------------------------


    /** Runs one client script to completion; its JSON lines are the steps the tests assert on. */
    private static NodeProcesses.Run runClient(String script, Map<String, String> env) throws IOException, InterruptedException {
        Map<String, String> withTimeout = new LinkedHashMap<>(env);
        withTimeout.put("CLIENT_TIMEOUT_SECONDS", Long.toString(CLIENT_TIMEOUT.toSeconds() - 10));
        return NodeProcesses.run(script, List.of(node, script + ".mjs"), NODE_DIR, withTimeout, CLIENT_TIMEOUT,
                () -> "--- server-everything (tail) ---\n" + tailOf(everythingLog));
    }

    /** Waits until the process has written {@code marker}; fails early if it exits. */
    private static void awaitOutput(Process process, Path log, String marker, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(log) && Files.readString(log, StandardCharsets.UTF_8).contains(marker)) {
                return;
            }
            if (!process.isAlive()) {
                fail("server-everything exited with " + process.exitValue() + " before printing \"" + marker
                        + "\"\n" + tailOf(log));
            }
            Thread.sleep(50);
        }
        fail("server-everything did not print \"" + marker + "\" within " + timeout + "\n" + tailOf(log));
    }

    // ---- helpers --------------------------------------------------------------------------------


    /**
     * Where the TypeScript SDK 1.x looks for authorization server metadata, in its order
     * ({@code buildDiscoveryUrls}): RFC 8414 path-inserted, OIDC path-inserted, OIDC path-appended.
     */
    private static List<String> authorizationServerMetadataUrls(String issuer) {
        URI uri = URI.create(issuer);
        String origin = uri.getScheme() + "://" + uri.getRawAuthority();
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        if (path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        if (path.isEmpty()) {
            return List.of(origin + "/.well-known/oauth-authorization-server", origin + "/.well-known/openid-configuration");
        }
        return List.of(origin + "/.well-known/oauth-authorization-server" + path,
                origin + "/.well-known/openid-configuration" + path,
                origin + path + "/.well-known/openid-configuration");
    }

    private static boolean isHttp(JsonNode r, String method) {
        return "http".equals(r.path("step").asText()) && (method == null || method.equals(r.path("method").asText()));
    }

    private static Predicate<JsonNode> http(String method, String url) {
        return r -> isHttp(r, method) && url.equals(r.path("url").asText());
    }

    private static List<String> names(JsonNode array) {
        List<String> names = new ArrayList<>();
        array.forEach(n -> names.add(n.asText()));
        return names;
    }
}
