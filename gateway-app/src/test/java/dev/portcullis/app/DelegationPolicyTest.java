package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.McpClients;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.modelcontextprotocol.client.McpSyncClient;
import io.modelcontextprotocol.spec.McpSchema;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Who acts for whom, end to end (issue 16): tokens with RFC 8693 {@code act} chains from a real authorization
 * server (mock-oauth2-server: Keycloak issues no {@code act}), a policy with {@code delegation} and {@code actors},
 * a Java MCP SDK client and server. Refusals name the rule in the access log, never reach the upstream, and the
 * audit event keeps the whole chain.
 */
class DelegationPolicyTest {
    private static final String POLICY = """
            default: deny
            delegation: { max-depth: 2, narrowing: true }
            tools:
              echo:   { scopes: [mcp:read] }
              whoami: { scopes: [mcp:read], actors: ["spiffe://prod.acme/ns/agents/*"] }
            """;
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().policy(POLICY, Duration.ofMillis(100)).build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();

    private static Map<String, Object> act(String sub, String scope, Map<String, Object> prior) {
        var map = new java.util.LinkedHashMap<String, Object>();
        map.put("sub", sub);
        if (scope != null) {
            map.put("scope", scope);
        }
        if (prior != null) {
            map.put("act", prior);
        }
        return map;
    }

    private String token(String scope, Map<String, Object> act) {
        return idp.accessToken(RESOURCE, scope, Map.of("act", act));
    }

    private HttpResponse<String> call(String token, String tool) {
        return gw.send(gw.post(GatewayHarness.toolCall(1, tool)).header("Authorization", "Bearer " + token).build());
    }

    private long upstreamToolCalls() {
        return upstream.requests().stream().filter(r -> r.body().contains("\"tools/call\"")).count();
    }

    @Test
    void aNarrowingChainThroughAnAllowedActorCallsTheTool() {
        String token = token("mcp:read", act("spiffe://prod.acme/ns/agents/planner", "mcp:read mcp:write",
                act("ide-assistant", null, null)));
        try (McpSyncClient client = McpClients.streamable(gw.baseUrl(), "/mcp", token)) {
            client.initialize();
            assertThat(client.listTools().tools()).extracting(McpSchema.Tool::name).containsExactlyInAnyOrder("echo", "whoami");
            assertThat(McpClients.text(client.callTool(new McpSchema.CallToolRequest("whoami", Map.of())))).isEqualTo("none");
        }
    }

    @Test
    void aWideningChainIsRefusedAndNeverForwarded() {
        // The sub-agent's token carries mcp:write, which its delegator (the current actor) lacked.
        String widening = token("mcp:read mcp:write", act("spiffe://prod.acme/ns/agents/planner", "mcp:read", null));
        HttpResponse<String> response = call(widening, "echo");
        assertThat(response.body()).contains("Unknown tool: echo");
        assertThat(upstreamToolCalls()).isZero();
    }

    @Test
    void aChainDeeperThanMaxDepthIsRefusedAndNeverForwarded() {
        String deep = token("mcp:read", act("a3", null, act("a2", null, act("a1", null, null))));
        HttpResponse<String> response = call(deep, "echo");
        assertThat(response.body()).doesNotContain("\"result\"");
        assertThat(upstreamToolCalls()).isZero();
    }

    @Test
    void aToolLimitedToActorsRefusesAnotherCurrentActor() {
        String viaOther = token("mcp:read", act("random-agent", null, null));
        assertThat(call(viaOther, "whoami").body()).contains("Unknown tool: whoami");
        assertThat(upstreamToolCalls()).isZero();
        // A direct call (no act) is no delegation: the actors rule does not apply.
        assertThat(call(idp.accessToken(RESOURCE, "mcp:read"), "whoami").body()).doesNotContain("Unknown tool");
    }
}
