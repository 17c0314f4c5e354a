package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Mono;

/**
 * Issue 17 in the 2026-07-28 revision, on the wire: a held call is answered with an {@code input_required}
 * result whose input request is a URL-mode elicitation of the approval page and whose {@code requestState} the
 * gateway sealed; the retry carrying it is decided from scratch: before approval it is held again, another
 * principal replaying it gets 400 / -32602 (V26-31), and after approval it goes through once, without the
 * gateway's state. The upstream is a scripted modern server that records what it receives.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ModernApprovalTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<JsonNode> received = new CopyOnWriteArrayList<>();
    static final int PAGE_PORT = GatewayHarness.freePort();

    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().idp(TestIdp::startInteractive)
            .policy(ApprovalFlowTest.POLICY)
            .stubServer(server -> server.handle((req, res) -> req.receive().aggregate().asString().defaultIfEmpty("")
                    .flatMap(body -> {
                        if (body.contains("portcullis-probe")) {
                            return res.header("Content-Type", "application/json").sendString(Mono.just(
                                    "{\"jsonrpc\":\"2.0\",\"id\":\"portcullis-probe\",\"result\":{\"resultType\":\"complete\","
                                            + "\"supportedVersions\":[\"2026-07-28\"],\"capabilities\":{\"tools\":{}}}}")).then();
                        }
                        JsonNode request = read(body);
                        received.add(request);
                        return res.header("Content-Type", "application/json").sendString(Mono.just(
                                "{\"jsonrpc\":\"2.0\",\"id\":" + request.path("id") + ",\"result\":{\"resultType\":\"complete\","
                                        + "\"content\":[{\"type\":\"text\",\"text\":\"done\"}]}}")).then();
                    })))
            .config(ext -> ApprovalFlowTest.config(ext, ModernApprovalTest.PAGE_PORT)).build();

    private final TestIdp idp = peers.idp();
    private final GatewayHarness gw = peers.gateway();

    private static JsonNode read(String body) {
        try {
            return JSON.readTree(body);
        } catch (java.io.IOException e) {
            return JSON.createObjectNode();
        }
    }

    private static long upstreamCalls() {
        return received.stream().filter(r -> r.path("method").asText().equals("tools/call")).count();
    }

    private HttpResponse<String> call(String token, int id, String text, String extraParams) {
        String body = "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                + "\"arguments\":{\"text\":\"" + text + "\"}" + extraParams + ",\"_meta\":{"
                + "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":"
                + "{\"elicitation\":{\"url\":{}}}}}}";
        return gw.send(gw.post(body).header("Authorization", "Bearer " + token).header("MCP-Protocol-Version", "2026-07-28")
                .header("Mcp-Method", "tools/call").header("Mcp-Name", "echo").build());
    }

    private static JsonNode json(HttpResponse<String> response) throws Exception {
        return JSON.readTree(response.body());
    }

    @Test
    void aHeldCallIsAnInputRequiredResultAndItsRetryIsDecidedFromScratch() throws Exception {
        String alice = idp.accessToken(RESOURCE, "mcp:tools");
        HttpResponse<String> first = call(alice, 1, "pay 300 to acme", "");
        assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
        JsonNode result = json(first).path("result");
        assertThat(result.path("resultType").asText()).as(first.body()).isEqualTo("input_required");
        JsonNode elicitation = result.path("inputRequests").path("approval");
        assertThat(elicitation.path("method").asText()).isEqualTo("elicitation/create");
        assertThat(elicitation.path("params").path("mode").asText()).isEqualTo("url");
        String url = elicitation.path("params").path("url").asText();
        assertThat(url).startsWith("http://127.0.0.1:" + PAGE_PORT + "/approvals/");
        String state = result.path("requestState").asText();
        assertThat(state).startsWith("pcap1.");
        assertThat(first.body()).doesNotContain("-32042");
        assertThat(upstreamCalls()).isZero();

        String retry = ",\"requestState\":\"" + state + "\",\"inputResponses\":{\"approval\":{\"action\":\"accept\"}}";
        // Before approval: held again, with the same request.
        JsonNode again = json(call(alice, 2, "pay 300 to acme", retry)).path("result");
        assertThat(again.path("inputRequests").path("approval").path("params").path("url").asText()).isEqualTo(url);
        // V26-31: another principal with alice's state is refused before anything else.
        String mallory = idp.accessToken(RESOURCE, "mcp:tools", Map.of("sub", "mallory"));
        HttpResponse<String> stolen = call(mallory, 3, "pay 300 to acme", retry);
        assertThat(stolen.statusCode()).isEqualTo(400);
        assertThat(json(stolen).path("error").path("code").asInt()).isEqualTo(-32602);
        assertThat(upstreamCalls()).isZero();

        ApprovalFlowTest.Approver bob = new ApprovalFlowTest.Approver();
        bob.open(url, "bob", "{\"roles\": [\"approver\"]}");
        assertThat(bob.decide(url, true, "ok").uri().getQuery()).isEqualTo("done=approved");

        HttpResponse<String> through = call(alice, 4, "pay 300 to acme", retry);
        assertThat(through.statusCode()).isEqualTo(200);
        assertThat(json(through).path("result").path("resultType").asText()).as(through.body()).isEqualTo("complete");
        assertThat(upstreamCalls()).isEqualTo(1);
        JsonNode forwarded = received.stream().filter(r -> r.path("method").asText().equals("tools/call")).findFirst().orElseThrow();
        assertThat(forwarded.path("params").has("requestState")).as("the gateway's state is not forwarded").isFalse();
        assertThat(forwarded.path("params").has("inputResponses")).isFalse();
        assertThat(forwarded.path("params").path("arguments").path("text").asText()).isEqualTo("pay 300 to acme");

        // Single use: the same retry again is held, with a new request.
        JsonNode replay = json(call(alice, 5, "pay 300 to acme", retry)).path("result");
        assertThat(replay.path("resultType").asText()).isEqualTo("input_required");
        assertThat(replay.path("inputRequests").path("approval").path("params").path("url").asText()).isNotEqualTo(url);
        assertThat(upstreamCalls()).isEqualTo(1);
    }
}
