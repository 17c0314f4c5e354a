package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;

/** SESSION-01..06 through the gateway, with a real MCP server that runs sessions. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SessionBindingProxyTest {
    private static final String INIT = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
            + "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
    private static final String LIST = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}";
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().build();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private final GatewayHarness gw = peers.gateway();

    private HttpResponse<String> post(String token, String session, String body) {
        var request = gw.post(body).header("Authorization", "Bearer " + token).header("MCP-Protocol-Version", "2025-11-25");
        if (session != null) {
            request.header("Mcp-Session-Id", session);
        }
        return gw.send(request.build());
    }

    private String alice() {
        return idp.accessToken(RESOURCE, "mcp:tools");
    }

    @Test
    void sessionIsBoundToThePrincipalAndTheUpstreamIdNeverReachesTheClient() {
        HttpResponse<String> init = post(alice(), null, INIT);
        assertThat(init.statusCode()).isEqualTo(200);
        String gatewayId = init.headers().firstValue("Mcp-Session-Id").orElseThrow();

        upstream.clearRequests();
        // SESSION-06: a new token (new jti) of the same principal keeps the session.
        assertThat(post(alice(), gatewayId, LIST).statusCode()).isEqualTo(200);
        String upstreamId = upstream.requests().get(0).header("mcp-session-id");
        assertThat(upstreamId).isNotNull().isNotEqualTo(gatewayId);
        assertThat(gatewayId).doesNotContain(upstreamId);

        // SESSION-01: another user with a valid token presents Alice's session id.
        upstream.clearRequests();
        String mallory = idp.accessToken(RESOURCE, "mcp:tools", Map.of("sub", "mallory"));
        HttpResponse<String> hijack = post(mallory, gatewayId, LIST);
        assertThat(hijack.statusCode()).isEqualTo(404);
        assertThat(hijack.body()).contains("\"code\":-32001");
        // The same user through another agent is another principal.
        String otherAgent = idp.accessToken(RESOURCE, "mcp:tools", Map.of("client_id", "other-agent", "azp", "other-agent"));
        assertThat(post(otherAgent, gatewayId, LIST).statusCode()).isEqualTo(404);
        // The upstream's own id, presented directly, is not a session of this gateway.
        assertThat(post(alice(), upstreamId, LIST).statusCode()).isEqualTo(404);
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void sessionIdIsNeverAuthentication() {
        String gatewayId = post(alice(), null, INIT).headers().firstValue("Mcp-Session-Id").orElseThrow();
        upstream.clearRequests();
        HttpResponse<String> noToken = gw.send(gw.post(LIST).header("Mcp-Session-Id", gatewayId).build());
        assertThat(noToken.statusCode()).isEqualTo(401); // AUTHN-01
        assertThat(upstream.requests()).isEmpty();
    }

    @Test
    void session04DeleteEndsTheSessionUpstream() {
        String gatewayId = post(alice(), null, INIT).headers().firstValue("Mcp-Session-Id").orElseThrow();
        var delete = gw.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(gw.baseUrl() + "/mcp"))
                .header("Authorization", "Bearer " + alice()).header("Mcp-Session-Id", gatewayId)
                .header("MCP-Protocol-Version", "2025-11-25").DELETE().build());
        assertThat(delete.statusCode()).isBetween(200, 299);
        // The upstream forgot it: the next use is a 404 (relayed), and the client re-initializes.
        assertThat(post(alice(), gatewayId, LIST).statusCode()).isEqualTo(404);
    }
}
