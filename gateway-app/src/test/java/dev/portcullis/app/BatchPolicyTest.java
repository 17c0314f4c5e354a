package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.portcullis.testing.TestIdp;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * POLICY-07 and JSONRPC-05 (E9): 2025-03-26 batches with refused elements. On a {@code batches: partial}
 * route (the default) the allowed elements reach the upstream as a smaller batch, byte for byte, and each
 * refused request's error is merged into the answer in its place (a JSON array, or one more event on an
 * SSE answer); on a {@code batches: reject-whole} route nothing is forwarded. The upstream is a recording
 * stub that answers a batch in reverse order (JSON) or as one event per response (SSE), because the Java
 * SDK server (2025-11-25) takes no batches.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BatchPolicyTest {
    private static final String POLICY = """
            default: deny
            tools:
              echo: {}
            methods:
              notifications/roots/list_changed: { deny: true }
            """;
    private static final String PROGRESS = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}";
    private static final String ROOTS_CHANGED = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/roots/list_changed\"}";
    private static final ObjectMapper json = new ObjectMapper();
    private static final List<String> received = new CopyOnWriteArrayList<>();
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().policy(POLICY)
            .stubServer(server -> server
                .handle((req, res) -> req.receive().aggregate().asString().defaultIfEmpty("").flatMap(body -> {
                    if (GatewayExtension.isEraProbe(body)) {
                        return GatewayExtension.refuseProbeAsLegacy(res);
                    }
                    received.add(body);
                    List<String> answers = answers(body);
                    if (answers.isEmpty()) {
                        return res.status(202).send().then();
                    }
                    if (req.uri().endsWith("/sse")) {
                        return res.header("Content-Type", "text/event-stream").sendString(Flux.fromIterable(answers)
                                .map(a -> "event: message\ndata: " + a + "\n\n")).then();
                    }
                    List<String> reversed = new ArrayList<>(answers);
                    java.util.Collections.reverse(reversed);
                    return res.header("Content-Type", "application/json")
                            .sendString(Mono.just("[" + String.join(",", reversed) + "]")).then();
                })))
            .build();
    private final TestIdp idp = peers.idp();
    private final GatewayHarness partial = peers.gateway();
    private final GatewayHarness partialSse = peers.startGateway(peers.stubUrl("/sse"), "policy: " + peers.policyFile() + "\nbatches: partial");
    private final GatewayHarness rejectWhole = peers.startGateway(peers.upstreamUrl(), "policy: " + peers.policyFile() + "\nbatches: reject-whole");

    @BeforeEach
    void clear() {
        received.clear();
    }

    /** One result per request of the batch the stub received: {"content":[{"text":"echo <id>"}]}. */
    private static List<String> answers(String body) {
        List<String> answers = new ArrayList<>();
        try {
            for (JsonNode element : json.readTree(body)) {
                if (element.has("method") && element.has("id")) {
                    answers.add("{\"jsonrpc\":\"2.0\",\"id\":" + element.get("id") + ",\"result\":{\"content\":[{\"type\":\"text\","
                            + "\"text\":\"echo " + element.get("id").asText() + "\"}]}}");
                }
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        return answers;
    }

    private HttpResponse<String> send(GatewayHarness gw, String body, String version) {
        var request = gw.post(body).header("Authorization", "Bearer " + idp.accessToken(RESOURCE, "mcp:tools"));
        if (version != null) {
            request.header("MCP-Protocol-Version", version);
        }
        return gw.send(request.build());
    }

    private static String call(int id, String tool) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool
                + "\",\"arguments\":{\"text\":\"x\"}}}";
    }

    @Test
    void policy07PartialBatchForwardsOnlyTheAllowedElementsAndMergesTheErrorsInPlace() throws Exception {
        String batch = "[" + call(10, "echo") + ",\n " + call(11, "delete_repo") + ", " + PROGRESS + " ," + call(12, "echo") + "]";
        HttpResponse<String> response = send(partial, batch, null); // a 2025-03-26 client sends no version header

        assertThat(response.statusCode()).isEqualTo(200);
        // The upstream got the allowed elements exactly as the client wrote them, and never the refused one.
        assertThat(received).containsExactly("[" + call(10, "echo") + "," + PROGRESS + "," + call(12, "echo") + "]");
        JsonNode answers = json.readTree(response.body());
        assertThat(answers).extracting(a -> a.path("id").asInt()).containsExactly(10, 11, 12);
        assertThat(answers.get(0).at("/result/content/0/text").asText()).isEqualTo("echo 10");
        assertThat(answers.get(1).path("error").path("code").asInt()).isEqualTo(-32602);
        assertThat(answers.get(1).path("error").path("message").asText()).isEqualTo("Unknown tool: delete_repo");
        assertThat(answers.get(2).at("/result/content/0/text").asText()).isEqualTo("echo 12");
    }

    @Test
    void policy07PartialBatchAnsweredAsSseGetsTheErrorAsOneMoreEvent() throws Exception {
        String batch = "[" + call(10, "echo") + "," + call(11, "delete_repo") + "]";
        HttpResponse<String> response = send(partialSse, batch, "2025-03-26");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/event-stream"));
        assertThat(received).containsExactly("[" + call(10, "echo") + "]");
        List<JsonNode> events = new ArrayList<>();
        for (String line : response.body().split("\n")) {
            if (line.startsWith("data: ")) {
                events.add(json.readTree(line.substring(6)));
            }
        }
        assertThat(events).extracting(e -> e.path("id").asInt()).containsExactlyInAnyOrder(10, 11);
        assertThat(events).filteredOn(e -> e.path("id").asInt() == 11).singleElement()
                .satisfies(e -> assertThat(e.at("/error/message").asText()).isEqualTo("Unknown tool: delete_repo"));
    }

    @Test
    void policy07RefusedRequestBesideForwardedNotificationsStillGetsItsError() throws Exception {
        HttpResponse<String> response = send(partial, "[" + call(11, "delete_repo") + "," + PROGRESS + "]", null);

        // The upstream took the notification (202); the client still gets the refused request's error.
        assertThat(received).containsExactly("[" + PROGRESS + "]");
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode answers = json.readTree(response.body());
        assertThat(answers.isArray()).isTrue();
        assertThat(answers).singleElement().satisfies(a -> assertThat(a.path("id").asInt()).isEqualTo(11));
    }

    @Test
    void jsonrpc05BatchOfOnlyNotificationsIs202AndARefusedNotificationIsDroppedUnanswered() {
        HttpResponse<String> response = send(partial, "[" + ROOTS_CHANGED + "," + PROGRESS + "]", null);

        assertThat(response.statusCode()).isEqualTo(202);
        assertThat(response.body()).isEmpty();
        assertThat(received).containsExactly("[" + PROGRESS + "]");
    }

    @Test
    void policy07BatchWhoseElementsAreAllRefusedIsNeverForwarded() throws Exception {
        HttpResponse<String> response = send(partial, "[" + call(1, "delete_repo") + "," + ROOTS_CHANGED + "]", null);

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(json.readTree(response.body())).singleElement()
                .satisfies(a -> assertThat(a.path("error").path("code").asInt()).isEqualTo(-32602));
        assertThat(received).isEmpty();
    }

    @Test
    void policy07RejectWholeRouteRefusesTheBatchWithAnErrorPerRequest() throws Exception {
        String batch = "[" + call(1, "echo") + "," + call(2, "delete_repo") + "," + PROGRESS + "]";
        HttpResponse<String> response = send(rejectWhole, batch, "2025-03-26");

        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode errors = json.readTree(response.body());
        assertThat(errors).extracting(e -> e.path("id").asInt()).containsExactly(1, 2);
        assertThat(errors).allSatisfy(e -> assertThat(e.has("error")).isTrue());
        assertThat(errors.get(1).path("error").path("message").asText()).isEqualTo("Unknown tool: delete_repo");
        assertThat(received).isEmpty();
    }

    @Test
    void jsonrpc05BatchHoldingInitializeIsInvalid() throws Exception {
        String initialize = "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-03-26\","
                + "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
        HttpResponse<String> response = send(partial, "[" + initialize + "," + call(1, "echo") + "]", null);

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(json.readTree(response.body()).path("error").path("code").asInt()).isEqualTo(-32600);
        assertThat(received).isEmpty();
    }

    @Test
    void jsonrpc05EmptyBatchIsOneInvalidRequestError() throws Exception {
        HttpResponse<String> response = send(partial, "[]", null);

        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode error = json.readTree(response.body());
        assertThat(error.isObject()).as("a single error, not an array").isTrue();
        assertThat(error.path("error").path("code").asInt()).isEqualTo(-32600);
        assertThat(received).isEmpty();
    }

    @Test
    void jsonrpc05BatchUnderALaterRevisionIsInvalid() throws Exception {
        HttpResponse<String> response = send(partial, "[" + call(1, "echo") + "]", "2025-06-18");

        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode error = json.readTree(response.body());
        assertThat(error.path("error").path("code").asInt()).isEqualTo(-32600);
        assertThat(error.path("error").path("message").asText()).contains("batching not supported");
        assertThat(received).isEmpty();
    }

    @Test
    void allowedBatchIsForwardedUnchanged() throws Exception {
        String batch = "[" + call(1, "echo") + "," + call(2, "echo") + "]";
        HttpResponse<String> response = send(partial, batch, null);

        assertThat(received).containsExactly(batch);
        ArrayNode answers = (ArrayNode) json.readTree(response.body());
        // Nothing refused: the upstream's answer is relayed as it is (here, in its reverse order).
        assertThat(answers).extracting(a -> a.path("id").asInt()).containsExactly(2, 1);
    }
}
