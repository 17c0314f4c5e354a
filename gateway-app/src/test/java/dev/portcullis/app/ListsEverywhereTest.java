package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.testing.TestIdp;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
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
 * Issue 12 items 2-4 through a running gateway: whatever way a list result travels to the caller (a batch
 * answer, a partial batch merged with the gateway's errors, an answer whose id the gateway cannot
 * attribute, an SSE event on a POST stream, the standalone GET stream, a stream resumed with
 * {@code Last-Event-ID}), the caller sees only what policy lets it see. The upstream is a stub that
 * always lists everything, hidden items and their schemas included, and answers the way hostile or
 * careless upstreams do (rounded ids, replays, batches).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ListsEverywhereTest {
    private static final String POLICY = """
            default: deny
            tools:
              echo: {}
            """;
    /** Every list, with one visible tool and hidden everything else. */
    private static final String TOOLS = "{\"tools\":[{\"name\":\"echo\",\"inputSchema\":{\"type\":\"object\"}},"
            + "{\"name\":\"secret_tool\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"secret_schema\":{}}}}]}";
    private static final String PROMPTS = "{\"prompts\":[{\"name\":\"secret_prompt\"}]}";
    private static final String TEMPLATES = "{\"resourceTemplates\":[{\"uriTemplate\":\"secret://template/{x}\",\"name\":\"t\"}]}";
    private static final String RESOURCES = "{\"resources\":[{\"uri\":\"secret://resource\",\"name\":\"r\"}]}";
    private static final List<String> HIDDEN = List.of("secret_tool", "secret_schema", "secret_prompt", "secret://");

    private static final ObjectMapper json = new ObjectMapper();
    private static final List<String> upstreamSaw = new CopyOnWriteArrayList<>();
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().policy(POLICY)
            .stubServer(server -> server
                .handle((req, res) -> req.receive().aggregate().asString().defaultIfEmpty("").flatMap(body -> {
                    if (GatewayExtension.isEraProbe(body)) {
                        return GatewayExtension.refuseProbeAsLegacy(res);
                    }
                    String lastEventId = req.requestHeaders().get("Last-Event-ID");
                    upstreamSaw.add(req.method() + " " + (lastEventId == null ? "" : "Last-Event-ID=" + lastEventId + " ") + body);
                    if (req.method().name().equals("GET")) {
                        // Resumed: the upstream replays an earlier tools/list answer and a batch answer; the
                        // standalone stream carries a list result it was never asked for.
                        List<String> events = lastEventId != null
                                ? List.of("id: ev-2\nevent: message\ndata: " + result(1, TOOLS) + "\n\n",
                                        "id: ev-3\nevent: message\ndata: [" + result(2, PROMPTS) + "," + result(3, TEMPLATES) + "]\n\n")
                                : List.of("id: ev-9\nevent: message\ndata: " + result(9, RESOURCES) + "\n\n",
                                        "data: " + result(10, TOOLS)); // the last event is not terminated
                        return res.header("Content-Type", "text/event-stream")
                                .sendString(Flux.fromIterable(events)).then();
                    }
                    List<String> answers = answers(body);
                    if (answers.isEmpty()) {
                        return res.status(202).send().then();
                    }
                    if (body.contains("\"id\":100")) {
                        // A POST answered as a stream, with an id the gateway cannot attribute.
                        return res.header("Content-Type", "text/event-stream").sendString(Flux.fromIterable(answers)
                                .map(a -> "event: message\ndata: " + a.replace("\"id\":100", "\"id\":\"100\"") + "\n\n")).then();
                    }
                    String out = body.trim().startsWith("[") ? "[" + String.join(",", answers) + "]" : answers.get(0);
                    String acceptEncoding = req.requestHeaders().get("Accept-Encoding", "");
                    if (acceptEncoding.contains("gzip") || body.contains("\"id\":77")) {
                        // A compressing upstream (id 77: one that compresses even unasked).
                        return res.header("Content-Type", "application/json").header("Content-Encoding", "gzip")
                                .sendByteArray(Mono.just(gzip(out))).then();
                    }
                    return res.header("Content-Type", "application/json").sendString(Mono.just(out)).then();
                })))
            .build();
    private final TestIdp idp = peers.idp();
    private final GatewayHarness gw = peers.gateway();

    @BeforeEach
    void clear() {
        upstreamSaw.clear();
    }

    private static byte[] gzip(String text) {
        try {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            try (java.util.zip.GZIPOutputStream zip = new java.util.zip.GZIPOutputStream(out)) {
                zip.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
            return out.toByteArray();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String result(Object id, String result) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"result\":" + result + "}";
    }

    /**
     * The stub's answer to each request: the full list its method asks for. A JavaScript upstream rounds
     * an id above 2^53 (9007199254740993 comes back as 9007199254740992): mimicked for such ids.
     */
    private static List<String> answers(String body) {
        List<String> answers = new ArrayList<>();
        try {
            JsonNode root = json.readTree(body);
            for (JsonNode element : root.isArray() ? root : List.of(root)) {
                if (!element.has("id") || !element.has("method")) {
                    continue;
                }
                String id = element.get("id").toString().equals("9007199254740993") ? "9007199254740992" : element.get("id").toString();
                String list = switch (element.get("method").asText()) {
                    case "tools/list" -> TOOLS;
                    case "prompts/list" -> PROMPTS;
                    case "resources/templates/list" -> TEMPLATES;
                    case "resources/list" -> RESOURCES;
                    default -> TOOLS; // a careless upstream: a list where a tool result belongs
                };
                answers.add(result(id, list));
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        return answers;
    }

    private HttpResponse<String> post(String body) {
        return gw.send(gw.post(body).header("Authorization", "Bearer " + idp.accessToken(RESOURCE, "mcp:tools")).build());
    }

    private HttpResponse<String> get(String lastEventId) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(gw.baseUrl() + "/mcp")).timeout(Duration.ofSeconds(10))
                .header("Accept", "text/event-stream")
                .header("Authorization", "Bearer " + idp.accessToken(RESOURCE, "mcp:tools")).GET();
        if (lastEventId != null) {
            request.header("Last-Event-ID", lastEventId);
        }
        return gw.send(request.build());
    }

    private static String request(Object id, String method) {
        return "{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"" + method + "\"}";
    }

    private static void assertNothingHidden(HttpResponse<String> response) {
        assertThat(response.body()).as("what reached the caller").doesNotContain(HIDDEN);
    }

    /** Item 2: {@code [tools/list]} and batched prompts/list, resources/templates/list, resources/list. */
    @Test
    void batchesAreNotListFiltered() throws Exception {
        HttpResponse<String> response = post("[" + request(1, "tools/list") + "," + request(2, "prompts/list") + ","
                + request(3, "resources/templates/list") + "," + request(4, "resources/list") + "]");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(upstreamSaw).hasSize(1); // the lists did come from the upstream, whole
        assertNothingHidden(response);
        JsonNode answers = json.readTree(response.body());
        assertThat(answers.at("/0/result/tools")).extracting(t -> t.path("name").asText()).containsExactly("echo");
        assertThat(answers.at("/1/result/prompts")).isEmpty();
        assertThat(answers.at("/2/result/resourceTemplates")).isEmpty();
        assertThat(answers.at("/3/result/resources")).isEmpty();
    }

    /** Item 2, partial batch: a list beside a refused element (BatchAnswers merges the gateway's error in). */
    @Test
    void partialBatchesAreNotListFiltered() throws Exception {
        HttpResponse<String> response = post("[" + request(1, "tools/list") + "," + GatewayHarness.toolCall(2, "delete_repo") + "]");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(upstreamSaw).singleElement().satisfies(s -> assertThat(s).doesNotContain("delete_repo"));
        assertNothingHidden(response);
        JsonNode answers = json.readTree(response.body());
        assertThat(answers.at("/0/result/tools")).extracting(t -> t.path("name").asText()).containsExactly("echo");
        assertThat(answers.at("/1/error/code").asInt()).isEqualTo(-32602);
    }

    /** Item 4: an id the gateway cannot attribute (2^53+1 rounded; a string for a number) fails closed. */
    @Test
    void listFilterFailsOpenOnIdMismatch() throws Exception {
        HttpResponse<String> rounded = post(request("9007199254740993", "tools/list"));
        assertThat(rounded.statusCode()).isEqualTo(200);
        assertNothingHidden(rounded);
        assertThat(json.readTree(rounded.body()).at("/result/tools")).extracting(t -> t.path("name").asText()).containsExactly("echo");

        HttpResponse<String> sse = post(request(100, "tools/list"));
        assertThat(sse.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/event-stream"));
        assertThat(sse.body()).contains("echo");
        assertNothingHidden(sse);

        // A careless upstream answering a tools/call with a list: filtered too.
        HttpResponse<String> call = post(GatewayHarness.toolCall(5, "echo"));
        assertThat(call.body()).contains("echo");
        assertNothingHidden(call);
    }

    /**
     * A sibling of item 2: a compressed answer passed the filter unread (the client's Accept-Encoding went
     * upstream). The gateway asks for none, and refuses an encoded answer on a route that filters lists.
     */
    @Test
    void compressedListAnswersPassedTheFilterUnread() throws Exception {
        HttpResponse<String> asked = gw.send(gw.post(request(1, "tools/list")).header("Accept-Encoding", "gzip")
                .header("Authorization", "Bearer " + idp.accessToken(RESOURCE, "mcp:tools")).build());
        assertThat(asked.statusCode()).isEqualTo(200);
        assertThat(asked.headers().firstValue("Content-Encoding")).isEmpty();
        assertThat(json.readTree(asked.body()).at("/result/tools")).extracting(t -> t.path("name").asText()).containsExactly("echo");

        HttpResponse<String> unasked = post(request(77, "tools/list"));
        assertThat(unasked.statusCode()).isEqualTo(502);
        assertThat(unasked.headers().firstValue("Content-Encoding")).isEmpty();
        assertNothingHidden(unasked);
    }

    /** Item 3: a GET with Last-Event-ID makes the upstream replay; the replay is filtered as on first delivery. */
    @Test
    void resumptionReplaysUnfilteredResults() {
        HttpResponse<String> resumed = get("ev-1");

        assertThat(resumed.statusCode()).isEqualTo(200);
        assertThat(upstreamSaw).singleElement().satisfies(s -> assertThat(s).startsWith("GET Last-Event-ID=ev-1"));
        assertThat(resumed.body()).contains("id: ev-2", "id: ev-3", "\"name\":\"echo\"");
        assertNothingHidden(resumed);
    }

    /** Item 3: the standalone GET stream (server-initiated messages), its unterminated last event included. */
    @Test
    void standaloneGetStreamIsListFiltered() {
        HttpResponse<String> stream = get(null);

        assertThat(stream.statusCode()).isEqualTo(200);
        assertThat(stream.body()).contains("id: ev-9", "\"name\":\"echo\"");
        assertNothingHidden(stream);
    }
}
