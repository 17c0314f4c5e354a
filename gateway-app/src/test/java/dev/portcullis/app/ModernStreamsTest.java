package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.testing.TestIdp;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * 2026-07-28 response streams through a route with a policy (issue 5): the {@code subscriptions/listen}
 * filter is narrowed to what the caller may see (V26-22), no server-to-client request reaches a modern
 * client on any stream (V26-29), and a policy reload that changes what a caller sees is announced on
 * its open listen streams (V26-34). The upstream is a scripted stub: a modern server that acknowledges
 * exactly the filter it receives (as the TypeScript SDK v2 does) and emits a stray server request on
 * demand, which no SDK server does.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ModernStreamsTest {
    private static final String META = "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
            + "\"io.modelcontextprotocol/clientCapabilities\":{}}";
    private static final String POLICY = """
            default: deny
            tools:
              echo: { scopes: [mcp:tools] }
            resources:
              "file:///ok": { scopes: [mcp:tools] }
              "file:///secret": { roles: [admin] }
            """;
    private static final String SAMPLING = "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"sampling/createMessage\","
            + "\"params\":{\"messages\":[],\"maxTokens\":1}}";
    private static final ObjectMapper json = new ObjectMapper();
    private static final List<JsonNode> received = new CopyOnWriteArrayList<>();
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().policy(POLICY, Duration.ofMillis(100))
            .stubServer(server -> server
                .handle((req, res) -> req.receive().aggregate().asString().defaultIfEmpty("").flatMap(body -> {
                    if (body.contains("portcullis-probe")) {
                        return res.header("Content-Type", "application/json").sendString(Mono.just(
                                "{\"jsonrpc\":\"2.0\",\"id\":\"portcullis-probe\",\"result\":{\"resultType\":\"complete\","
                                        + "\"supportedVersions\":[\"2026-07-28\"],\"capabilities\":{\"tools\":{}}}}")).then();
                    }
                    JsonNode request = read(body);
                    received.add(request);
                    if (request.path("method").asText().equals("server/discover")) {
                        return res.header("Content-Type", "application/json").sendString(Mono.just(
                                "{\"jsonrpc\":\"2.0\",\"id\":" + request.path("id") + ",\"result\":{\"resultType\":\"complete\","
                                        + "\"supportedVersions\":[\"2027-01-01\",\"2026-07-28\"],\"capabilities\":{\"tools\":"
                                        + "{\"listChanged\":true},\"prompts\":{\"listChanged\":true},\"resources\":{\"subscribe\":true}},"
                                        + "\"ttlMs\":3600000,\"cacheScope\":\"public\"}}")).then();
                    }
                    Flux<String> events = switch (request.path("method").asText()) {
                        // A modern server acknowledges exactly the filter it honours, then streams.
                        case "subscriptions/listen" -> Flux.concat(Mono.just(event(acknowledgment(request))),
                                Mono.just(event(SAMPLING)),
                                Mono.just(event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\","
                                        + "\"params\":{\"uri\":\"file:///ok\",\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":"
                                        + request.path("id") + "}}}")),
                                Flux.never());
                        // A stray server-to-client request between a progress notification and the result.
                        default -> Flux.just(
                                event("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}"),
                                event(SAMPLING),
                                "id: e3\nevent: message\ndata: [" + SAMPLING + ",{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
                                        + "\"params\":{\"level\":\"info\",\"data\":\"x\"}}]\n\n",
                                event("{\"jsonrpc\":\"2.0\",\"id\":" + request.path("id") + ",\"result\":{\"resultType\":\"complete\","
                                        + "\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}"));
                    };
                    return res.header("Content-Type", "text/event-stream").sendString(events).then();
                })))
            .build();
    private final TestIdp idp = peers.idp();
    private final Path policyFile = peers.policyFile();
    private final GatewayHarness gw = peers.gateway();

    @BeforeEach
    void reset() {
        received.clear();
    }

    private static JsonNode read(String body) {
        try {
            return json.readTree(body);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String event(String data) {
        return "event: message\ndata: " + data + "\n\n";
    }

    /** {@code notifications/subscriptions/acknowledged} with the filter as received and the subscription id. */
    private static String acknowledgment(JsonNode listen) {
        ObjectNode ack = json.createObjectNode().put("jsonrpc", "2.0").put("method", "notifications/subscriptions/acknowledged");
        ObjectNode params = ack.putObject("params");
        params.set("notifications", listen.path("params").path("notifications"));
        params.putObject("_meta").set("io.modelcontextprotocol/subscriptionId", listen.path("id"));
        return ack.toString();
    }

    private static String listen(int id, String filter) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"subscriptions/listen\",\"params\":{" + META
                + ",\"notifications\":" + filter + "}}";
    }

    /** An open SSE response, read line by line on its own thread; each {@code data:} line is one message. */
    private final class Stream implements AutoCloseable {
        private final InputStream body;
        private final BlockingQueue<String> data = new LinkedBlockingQueue<>();
        final StringBuilder raw = new StringBuilder();

        Stream(String requestBody, String method) throws Exception {
            var request = gw.post(requestBody).header("Authorization", "Bearer " + idp.accessToken(RESOURCE, "mcp:tools"))
                    .header("MCP-Protocol-Version", "2026-07-28").header("Mcp-Method", method)
                    .timeout(java.time.Duration.ofSeconds(30));
            if (method.equals("tools/call")) {
                request.header("Mcp-Name", "echo");
            }
            HttpResponse<InputStream> response = gw.http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(response.statusCode()).isEqualTo(200);
            body = response.body();
            Thread reader = new Thread(() -> {
                try (BufferedReader lines = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = lines.readLine()) != null) {
                        synchronized (raw) {
                            raw.append(line).append('\n');
                        }
                        if (line.startsWith("data: ")) {
                            data.add(line.substring(6));
                        }
                    }
                } catch (java.io.IOException closed) {
                    // the test closed the stream
                }
                data.add("EOF");
            }, "sse-reader");
            reader.setDaemon(true);
            reader.start();
        }

        /** The next message, or null when none arrives within {@code millis}. */
        JsonNode next(long millis) throws Exception {
            String line = data.poll(millis, TimeUnit.MILLISECONDS);
            return line == null || line.equals("EOF") ? null : json.readTree(line);
        }

        String rawSoFar() {
            synchronized (raw) {
                return raw.toString();
            }
        }

        @Override
        public void close() throws Exception {
            body.close();
        }
    }

    /**
     * V26-5 beyond versions: the caller may see no prompt under this policy, so the discover result it gets
     * offers no {@code prompts}; tools and resources stay; the hints stay, made private and capped (V26-32/33).
     */
    @Test
    void v26_5DiscoverThroughTheGatewayOffersOnlyUsableCapabilities() throws Exception {
        String discover = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"server/discover\",\"params\":{" + META + "}}";
        HttpResponse<String> response = gw.send(gw.post(discover).header("Authorization", "Bearer "
                        + idp.accessToken(RESOURCE, "mcp:tools")).header("MCP-Protocol-Version", "2026-07-28")
                .header("Mcp-Method", "server/discover").build());
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode result = json.readTree(response.body()).path("result");
        assertThat(result.path("capabilities").fieldNames()).toIterable().containsExactlyInAnyOrder("tools", "resources");
        assertThat(result.path("supportedVersions")).extracting(JsonNode::asText).containsExactly("2026-07-28");
        assertThat(result.path("resultType").asText()).isEqualTo("complete");
        assertThat(result.path("cacheScope").asText()).isEqualTo("private");
        assertThat(result.path("ttlMs").asLong()).isEqualTo(100);
        // The upstream offered prompts: only this caller's copy lost them.
        assertThat(received).hasSize(1);
    }

    /** V26-22: the caller may not read file:///secret and may see no prompt: the upstream is asked for neither. */
    @Test
    void v26_22ListenFilterIsNarrowedToWhatTheCallerMaySee() throws Exception {
        try (Stream stream = new Stream(listen(9, "{\"toolsListChanged\":true,\"promptsListChanged\":true,"
                + "\"resourcesListChanged\":true,\"resourceSubscriptions\":[\"file:///secret\",\"file:///ok\"],"
                + "\"somethingNew\":true}"), "subscriptions/listen")) {
            JsonNode ack = stream.next(10_000);
            assertThat(ack.path("method").asText()).isEqualTo("notifications/subscriptions/acknowledged");
            assertThat(ack.at("/params/_meta/io.modelcontextprotocol~1subscriptionId").asInt()).isEqualTo(9);
            JsonNode acknowledged = ack.at("/params/notifications");
            assertThat(acknowledged.path("resourceSubscriptions")).extracting(JsonNode::asText).containsExactly("file:///ok");
            assertThat(acknowledged.fieldNames()).toIterable()
                    .containsExactlyInAnyOrder("toolsListChanged", "resourcesListChanged", "resourceSubscriptions");
        }
        JsonNode forwarded = received.get(0).at("/params/notifications");
        assertThat(forwarded.path("resourceSubscriptions")).extracting(JsonNode::asText).containsExactly("file:///ok");
        assertThat(forwarded.has("promptsListChanged")).isFalse();
        assertThat(forwarded.has("somethingNew")).isFalse();
        // Everything else reaches the upstream as sent: the envelope and the id.
        assertThat(received.get(0).at("/params/_meta/io.modelcontextprotocol~1protocolVersion").asText()).isEqualTo("2026-07-28");
        assertThat(received.get(0).path("id").asInt()).isEqualTo(9);
    }

    /** V26-29: a stray server request on a POST's response stream never reaches the modern client. */
    @Test
    void v26_29ServerRequestOnAModernResponseStreamIsDropped() throws Exception {
        String call = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{},"
                + META + "}}";
        try (Stream stream = new Stream(call, "tools/call")) {
            assertThat(stream.next(10_000).path("method").asText()).isEqualTo("notifications/progress");
            JsonNode second = stream.next(10_000);
            // The batch-shaped event lost its request element; its notification stays.
            assertThat(second.isArray()).isTrue();
            assertThat(second).hasSize(1);
            assertThat(second.get(0).path("method").asText()).isEqualTo("notifications/message");
            JsonNode result = stream.next(10_000);
            assertThat(result.path("id").asInt()).isEqualTo(1);
            assertThat(result.at("/result/content/0/text").asText()).isEqualTo("hi");
            assertThat(stream.next(2_000)).isNull();
            assertThat(stream.rawSoFar()).doesNotContain("sampling/createMessage").contains("id: e3");
        }
    }

    /** V26-29 on a listen stream: the request is dropped, the notification after it passes. */
    @Test
    void v26_29ServerRequestOnAListenStreamIsDropped() throws Exception {
        try (Stream stream = new Stream(listen(4, "{\"resourceSubscriptions\":[\"file:///ok\"]}"), "subscriptions/listen")) {
            assertThat(stream.next(10_000).path("method").asText()).isEqualTo("notifications/subscriptions/acknowledged");
            JsonNode next = stream.next(10_000);
            assertThat(next.path("method").asText()).isEqualTo("notifications/resources/updated");
            assertThat(stream.rawSoFar()).doesNotContain("sampling/createMessage");
        }
    }

    /**
     * V26-34: a reload that changes what the caller sees of tools puts {@code notifications/tools/list_changed},
     * tagged with the stream's subscription id, on its open listen stream; a reload that changes only prompts
     * (which this stream did not ask about) puts nothing there.
     */
    @Test
    void v26_34PolicyReloadAnnouncesListChangesOnOpenListenStreams() throws Exception {
        try (Stream stream = new Stream(listen(9, "{\"toolsListChanged\":true}"), "subscriptions/listen")) {
            assertThat(stream.next(10_000).path("method").asText()).isEqualTo("notifications/subscriptions/acknowledged");
            assertThat(stream.next(10_000).path("method").asText()).isEqualTo("notifications/resources/updated");

            Files.writeString(policyFile, POLICY + "prompts:\n  greet: { scopes: [mcp:tools] }\n");
            assertThat(stream.next(1_500)).as("a prompts-only change is not a tools change").isNull();

            Files.writeString(policyFile, POLICY.replace("echo: { scopes: [mcp:tools] }", "echo: { roles: [admin] }"));
            JsonNode changed = stream.next(5_000);
            assertThat(changed).isNotNull();
            assertThat(changed.toString()).isEqualTo("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\","
                    + "\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":9}}}");
        }
    }
}
