package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.McpClients;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.spec.McpError;
import io.modelcontextprotocol.spec.McpSchema;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-tool policy enforced between a real client and a real server (issue 3): lists filtered,
 * step-up challenged, denials answered as JSON-RPC errors, nothing denied reaches the upstream.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PolicyEnforcementTest {
    private static final String POLICY = """
            default: deny
            tools:
              echo:          { scopes: [mcp:read], arguments: { text: { max-length: 20 } } }
              whoami:        { scopes: [mcp:read, mcp:write] }
              slow_progress: { roles: [admin] }
            methods:
              notifications/roots/list_changed: { deny: true }
            """;
    private final ObjectMapper json = new ObjectMapper();
    @TempDir
    Path dir;
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().policy(POLICY, Duration.ofMillis(100)).build();
    private final Path policyFile = peers.policyFile();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();

    private String reader() {
        return idp.accessToken(RESOURCE, "mcp:read");
    }

    private HttpResponse<String> call(String token, String body, String... headers) {
        HttpRequest.Builder request = gw.post(body).header("Authorization", "Bearer " + token);
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return gw.send(request.build());
    }

    private static String toolCall(Object id, String tool, String text) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":{\"text\":\"" + text + "\"}}}";
    }

    private long upstreamToolCalls() {
        return upstream.requests().stream().filter(r -> r.body().contains("\"tools/call\"")).count();
    }

    @Test
    void policy05ReaderSeesOnlyTheToolsItMayCallAndCallsThem() {
        try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", reader())) {
            client.initialize();
            // The SDK server answers tools/list as SSE: the one event is rewritten, the rest flows.
            assertThat(client.listTools().tools()).extracting(McpSchema.Tool::name).containsExactly("echo");
            var result = client.callTool(new McpSchema.CallToolRequest("echo", Map.of("text", "hello")));
            assertThat(McpClients.text(result)).contains("hello");
        }
    }

    @Test
    void challenge04MissingScopeIsA403StepUpAndNeverForwarded() {
        HttpResponse<String> response = call(reader(), toolCall(7, "whoami", "x"));
        assertThat(response.statusCode()).isEqualTo(403);
        assertThat(response.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(h -> assertThat(h)
                .startsWith("Bearer error=\"insufficient_scope\"")
                .contains("scope=\"mcp:read mcp:write\"", "resource_metadata=\"" + GatewayHarness.PRM_URL + "\""));
        assertThat(upstreamToolCalls()).isZero();
        // With the scope, the same call goes through.
        String writer = idp.accessToken(RESOURCE, "mcp:read mcp:write");
        try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", writer)) {
            client.initialize();
            assertThat(client.listTools().tools()).extracting(McpSchema.Tool::name).containsExactlyInAnyOrder("echo", "whoami");
            assertThat(McpClients.text(client.callTool(new McpSchema.CallToolRequest("whoami", Map.of())))).isEqualTo("none");
        }
    }

    @Test
    void jsonrpc08RoleRestrictedToolIsHiddenAndAnsweredAsUnknown() throws Exception {
        HttpResponse<String> response = call(reader(), toolCall("\"r-1\"", "slow_progress", "x"));
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode error = json.readTree(response.body());
        assertThat(error.path("id").asText()).isEqualTo("r-1");
        assertThat(error.path("error").path("code").asInt()).isEqualTo(-32602);
        assertThat(error.path("error").path("message").asText()).isEqualTo("Unknown tool: slow_progress");
        assertThat(response.body()).doesNotContain("admin", "roles");
        assertThat(upstreamToolCalls()).isZero();
    }

    @Test
    void jsonrpc08ArgumentConstraintBlocksAnOverLimitCall() throws Exception {
        HttpResponse<String> response = call(reader(), toolCall(9007199254740993L, "echo", "x".repeat(21)));
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode error = json.readTree(response.body()).path("error");
        assertThat(response.body()).contains("\"id\":9007199254740993");
        assertThat(error.path("code").asInt()).isEqualTo(-31403);
        assertThat(error.path("message").asText()).isEqualTo("Denied by gateway policy");
        assertThat(error.path("data").path("rule").asText()).isEqualTo("tools.echo");
        assertThat(upstreamToolCalls()).isZero();
    }

    @Test
    void realClientSeesDenialsAsJsonRpcErrorsMatchedToTheCall() {
        try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", reader())) {
            client.initialize();
            assertThatThrownBy(() -> client.callTool(new McpSchema.CallToolRequest("echo", Map.of("text", "x".repeat(30)))))
                    .isInstanceOfSatisfying(McpError.class, e -> assertThat(e.getJsonRpcError().code()).isEqualTo(-31403));
            // The session survives a denial.
            assertThat(McpClients.text(client.callTool(new McpSchema.CallToolRequest("echo", Map.of("text", "still ok")))))
                    .contains("still ok");
        }
    }

    @Test
    void policy04UnknownMethodIsDeniedByDefault() throws Exception {
        HttpResponse<String> response = call(reader(),
                "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"completion/complete\",\"params\":{}}");
        assertThat(json.readTree(response.body()).path("error").path("code").asInt()).isEqualTo(-32601);
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void jsonrpc06DeniedNotificationIsA403WithoutAnId() {
        HttpResponse<String> response = call(reader(), "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/roots/list_changed\"}");
        assertThat(response.statusCode()).isEqualTo(403);
        assertThat(response.body()).doesNotContain("\"id\"");
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void policy01DecidesFromTheBodyNotFromHeaders() throws Exception {
        HttpResponse<String> response = call(reader(), toolCall(4, "slow_progress", "x"), "Mcp-Name", "echo",
                "Mcp-Method", "tools/call");
        assertThat(json.readTree(response.body()).path("error").path("code").asInt()).isEqualTo(-32602);
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void policyReloadsWhenTheFileChangesAndKeepsTheLastGoodOneOnABadFile() throws Exception {
        assertThat(call(reader(), toolCall(1, "whoami", "x")).statusCode()).isEqualTo(403);
        Files.writeString(policyFile, POLICY.replace("whoami:        { scopes: [mcp:read, mcp:write] }",
                "whoami:        { scopes: [mcp:read] }"));
        awaitForwarded(toolCall(1, "whoami", "x"));

        Files.writeString(policyFile, "default: deny\ntools:\n  echo: { scopes: \"not-a-list\" }\n");
        GatewayHarness.sleep(500);
        // The bad file is refused; the last good policy (whoami allowed) stays in force.
        upstream.clearRequests();
        assertThat(call(reader(), toolCall(1, "whoami", "x")).statusCode()).isNotEqualTo(403);
        assertThat(upstreamToolCalls()).isEqualTo(1);
        String metrics = gw.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.gateway.adminPort() + "/metrics"))
                .build()).body();
        assertThat(metrics).contains("portcullis_policy_reloads_total{outcome=\"failure\",route=\"test\"}")
                .contains("portcullis_policy_reloads_total{outcome=\"success\",route=\"test\"}");
    }

    @Test
    void kubernetesConfigMapSymlinkSwapIsSeen(@TempDir Path mount) throws Exception {
        // A ConfigMap volume: policy.yaml -> ..data/policy.yaml, ..data -> ..2026_01 (swapped atomically).
        Path first = Files.createDirectory(mount.resolve("..2026_01"));
        Files.writeString(first.resolve("policy.yaml"), POLICY);
        Files.createSymbolicLink(mount.resolve("..data"), first.getFileName());
        Files.createSymbolicLink(mount.resolve("policy.yaml"), Path.of("..data", "policy.yaml"));
        try (GatewayHarness kube = GatewayHarness.start(idp.issuer(), upstream.url(),
                "policy: " + mount.resolve("policy.yaml") + "\npolicy-reload-interval: 100ms", null)) {
            HttpResponse<String> before = kube.send(kube.post(toolCall(1, "whoami", "x"))
                    .header("Authorization", "Bearer " + reader()).build());
            assertThat(before.statusCode()).isEqualTo(403);

            Path second = Files.createDirectory(mount.resolve("..2026_02"));
            Files.writeString(second.resolve("policy.yaml"), POLICY.replace("[mcp:read, mcp:write]", "[mcp:read]"));
            Path staged = mount.resolve("..data_tmp");
            Files.createSymbolicLink(staged, second.getFileName());
            Files.move(staged, mount.resolve("..data"), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);

            Instant deadline = Instant.now().plusSeconds(5);
            int status = 403;
            while (Instant.now().isBefore(deadline) && status == 403) {
                GatewayHarness.sleep(100);
                status = kube.send(kube.post(toolCall(1, "whoami", "x")).header("Authorization", "Bearer " + reader())
                        .build()).statusCode();
            }
            assertThat(status).as("the swapped policy allows whoami: no more step-up").isNotEqualTo(403);
        }
    }

    /** Waits until the call is allowed: it reaches the upstream (which, without a session, refuses it itself). */
    private void awaitForwarded(String body) {
        Instant deadline = Instant.now().plusSeconds(5);
        while (Instant.now().isBefore(deadline)) {
            upstream.clearRequests();
            call(reader(), body);
            if (upstreamToolCalls() > 0) {
                return;
            }
            GatewayHarness.sleep(100);
        }
        assertThat(upstreamToolCalls()).as("the reloaded policy lets the call through").isPositive();
    }
}
