package dev.portcullis.app;

import static dev.portcullis.app.NodeProcesses.OUT_DIR;
import static dev.portcullis.app.NodeProcesses.TEST_DIR;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.pin.Definitions;
import dev.portcullis.pin.Pin;
import dev.portcullis.pin.PinFile;
import dev.portcullis.pin.PinKind;
import dev.portcullis.pin.PinSet;
import dev.portcullis.testing.TestIdp;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 17 against the TypeScript SDK v2 server ({@code src/test/node-v2/server-v2.mjs}, stateless): {@code pin} reads
 * it, and a caller in the 2026-07-28 era (stateless requests, era headers) sees pinning enforced: the tool whose
 * reviewed definition differs from what the server lists is absent from {@code tools/list} (cache hints private:
 * V26-32) and its {@code tools/call} is refused with nothing sent upstream.
 */
@Tag("interop")
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class PinningTypeScriptV2Test {
    private static final String MODERN = "2026-07-28";
    private static final String META = "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
            + "\"io.modelcontextprotocol/clientCapabilities\":{}}";
    private static final Path NODE_DIR = TEST_DIR.resolve("node-v2");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().noUpstream().noGateway().build();

    private static Process server;
    private static Path serverLog;
    private static String upstreamUrl;
    private static Path config;
    private static Path pins;

    @BeforeAll
    static void startServer() throws Exception {
        NodeProcesses.requireInstalled(NODE_DIR, "@modelcontextprotocol/server");
        Files.createDirectories(OUT_DIR);
        int port = NodeProcesses.freePort();
        upstreamUrl = "http://127.0.0.1:" + port + "/mcp";
        serverLog = OUT_DIR.resolve("server-v2-pinning.log");
        server = NodeProcesses.start(List.of(NodeProcesses.findNode(), "server-v2.mjs", Integer.toString(port)), NODE_DIR,
                Map.of(), serverLog, "MCP v2 server listening on " + upstreamUrl, Duration.ofSeconds(30));
        Path dir = Files.createDirectories(OUT_DIR.resolve("pinning-v2"));
        pins = dir.resolve("pins.yaml");
        Files.deleteIfExists(pins);
        config = Files.writeString(dir.resolve("gateway.yaml"), GatewayHarness.config(peers.idp().issuer(), upstreamUrl,
                "allowed-hosts: [127.0.0.1]", "algorithms: [RS256]", "pinning: { file: " + pins.toAbsolutePath() + " }"));
    }

    @AfterAll
    static void stopServer() {
        NodeProcesses.stop(server);
    }

    private static List<JsonNode> upstreamRequests() throws Exception {
        return NodeProcesses.jsonLines(Files.readString(serverLog, StandardCharsets.UTF_8)).stream()
                .filter(r -> r.has("request")).map(r -> r.get("request")).toList();
    }

    /** One 2026-07-28 request through the gateway; the answer's JSON-RPC message (from JSON or an SSE event). */
    private static JsonNode modern(GatewayHarness gw, String method, String name, String params) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(gw.baseUrl() + "/mcp")).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json").header("Accept", "application/json, text/event-stream")
                .header("Authorization", "Bearer " + peers.idp().accessToken(GatewayHarness.RESOURCE, "mcp:tools"))
                .header("MCP-Protocol-Version", MODERN).header("Mcp-Method", method)
                .POST(HttpRequest.BodyPublishers.ofString("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method
                        + "\",\"params\":{" + params + (params.isEmpty() ? "" : ",") + META + "}}"));
        if (name != null) {
            request.header("Mcp-Name", name);
        }
        HttpResponse<String> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        String body = response.body();
        if (response.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream")) {
            body = body.lines().filter(l -> l.startsWith("data:")).map(l -> l.substring(5).strip())
                    .filter(l -> l.contains("\"id\":1")).findFirst().orElseThrow();
        }
        return JSON.readTree(body);
    }

    @Test
    void pinReadsTheV2ServerAndAModernCallerSeesTheDriftedToolHiddenAndRefused() throws Exception {
        Cli pinned = Cli.run("pin", "--config", config.toString());
        assertThat(pinned.exit()).as(pinned.err()).isZero();
        PinSet live = PinFile.read(pins);
        assertThat(live.of(PinKind.TOOLS)).containsOnlyKeys("add", "delete_everything", "echo", "write_note");

        // What was reviewed: echo as it read before the server changed it (the server now lists its current text).
        Map<String, Pin> reviewed = new LinkedHashMap<>(live.of(PinKind.TOOLS));
        var echo = reviewed.get("echo").definition().deepCopy();
        echo.put("description", "Echoes the message back, and nothing else");
        reviewed.put("echo", Pin.of(PinKind.TOOLS, echo));
        Files.writeString(pins, PinFile.write(new PinSet(live.route(), live.upstream(), Map.of(PinKind.TOOLS, reviewed))));
        assertThat(Definitions.sha256(echo)).isNotEqualTo(live.get(PinKind.TOOLS, "echo").sha256());

        GatewayHarness gw = peers.startGatewayYaml(Files.readString(config));
        JsonNode list = modern(gw, "tools/list", null, "");
        assertThat(list.at("/result/tools").findValuesAsText("name")).containsExactlyInAnyOrder("add", "delete_everything",
                "write_note");
        assertThat(list.at("/result/cacheScope").asText()).isEqualTo("private");

        int before = upstreamRequests().size();
        JsonNode refused = modern(gw, "tools/call", "echo", "\"name\":\"echo\",\"arguments\":{\"message\":\"hi\"}");
        assertThat(refused.at("/error/code").asInt()).isEqualTo(-31403);
        assertThat(refused.at("/error/message").asText()).isEqualTo("Tool definition changed since it was pinned: echo");
        assertThat(upstreamRequests()).as("nothing reached the upstream for the refused call").hasSize(before);

        JsonNode add = modern(gw, "tools/call", "add", "\"name\":\"add\",\"arguments\":{\"a\":40,\"b\":2}");
        assertThat(add.toString()).contains("42");
    }
}
