package dev.portcullis.forward;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authn.BearerToken;
import dev.portcullis.authn.Principal;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.config.RouteConfig;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.JsonRpcInspector;
import dev.portcullis.policy.PolicyLoader;
import dev.portcullis.route.Route;
import dev.portcullis.route.RoutedRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** POLICY-05: list results carry only what the caller may use; nothing else changes. */
class ListFilterTest {
    private static final String POLICY = """
            default: deny
            tools:
              read_file: { scopes: [files:read] }
              write_file: { scopes: [files:write] }
            resources:
              "file:///public/**": { scopes: [files:read] }
            """;
    private final ObjectMapper json = new ObjectMapper();

    private ListFilter filter(Path dir, String method, String id) throws Exception {
        byte[] body = ("{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"method\":\"" + method + "\"}").getBytes(StandardCharsets.UTF_8);
        return filterFor(policyRoute(dir), body, dev.portcullis.revision.Streamable2025.REVISION);
    }

    /** A 2026-07-28 request for {@code method} (id 1) on {@code route}. */
    private static ListFilter modernFilter(Route route, String method) {
        byte[] body = ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + method + "\",\"params\":{\"_meta\":"
                + "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}").getBytes(StandardCharsets.UTF_8);
        return filterFor(route, body, dev.portcullis.revision.Stateless2026.REVISION);
    }

    private static Route policyRoute(Path dir) throws Exception {
        Path policyFile = Files.writeString(dir.resolve("p.yaml"), POLICY);
        return Route.compile(routeConfig(policyFile), List.of("https://idp"), PolicyLoader.load(policyFile).policy());
    }

    private static RouteConfig routeConfig(Path policyFile) {
        return new RouteConfig("r", "/mcp", "http://127.0.0.1:1/mcp", "https://gw.example.com/mcp",
                null, null, null, policyFile, null, null, null, null, null, null, null, null);
    }

    private static ListFilter filterFor(Route route, byte[] body, dev.portcullis.revision.McpRevision revision) {
        return filterFor(route, body, revision, Set.of("files:read"));
    }

    private static ListFilter filterFor(Route route, byte[] body, dev.portcullis.revision.McpRevision revision,
                                        Set<String> scopes) {
        return filterFor(route, body, revision, scopes, false);
    }

    private static ListFilter filterFor(Route route, byte[] body, dev.portcullis.revision.McpRevision revision,
                                        Set<String> scopes, boolean batch) {
        Principal principal = new Principal("https://idp", "u", "agent", scopes, Set.of(), Map.of(), "j",
                Instant.now().plusSeconds(60), new BearerToken("t"));
        var inspected = new InspectedRequest(new AuthenticatedRequest(new RoutedRequest(null, route, "rid"), principal),
                body, body.length == 0 ? List.of() : new JsonRpcInspector().inspect(body), batch, revision,
                java.util.Optional.empty());
        return ListFilter.forRequest(new AuthorizedRequest(inspected, List.of())).orElseThrow();
    }

    @Test
    void jsonToolListKeepsOnlyVisibleToolsAndEveryOtherField(@TempDir Path dir) throws Exception {
        String response = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"read_file\",\"inputSchema\":"
                + "{\"type\":\"object\",\"x-mcp-header\":\"a\"}},{\"name\":\"write_file\"},{\"name\":\"rm\"},{\"noname\":1}],"
                + "\"nextCursor\":\"c2\",\"_meta\":{\"k\":\"v\"}}}";
        JsonNode out = json.readTree(filter(dir, "tools/list", "1").filterJson(response.getBytes(StandardCharsets.UTF_8)));
        assertThat(out.at("/result/tools")).hasSize(1);
        assertThat(out.at("/result/tools/0/name").asText()).isEqualTo("read_file");
        assertThat(out.at("/result/tools/0/inputSchema/x-mcp-header").asText()).isEqualTo("a");
        assertThat(out.at("/result/nextCursor").asText()).isEqualTo("c2");
        assertThat(out.at("/result/_meta/k").asText()).isEqualTo("v");
    }

    @Test
    void resourcesAreFilteredByUri(@TempDir Path dir) throws Exception {
        String response = "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{\"resources\":[{\"uri\":\"file:///public/x\"},"
                + "{\"uri\":\"file:///secret/y\"}]}}";
        JsonNode out = json.readTree(filter(dir, "resources/list", "\"a\"").filterJson(response.getBytes(StandardCharsets.UTF_8)));
        assertThat(out.at("/result/resources")).hasSize(1);
    }

    /** Notifications and results without a list pass as the very same bytes. */
    @Test
    void messagesWithoutAListAreNotTouched(@TempDir Path dir) throws Exception {
        ListFilter filter = filter(dir, "tools/list", "1");
        byte[] call = "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}}"
                .getBytes(StandardCharsets.UTF_8);
        assertThat(filter.filterJson(call)).isSameAs(call);
        byte[] notification = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n"
                .getBytes(StandardCharsets.UTF_8);
        assertThat(filter.filterEvent(notification)).isSameAs(notification);
    }

    /**
     * Issue 12 item 4: an upstream answered a list request with an id that did not match (a JavaScript
     * upstream rounds 2^53+1 to 2^53), and the list was relayed whole. A list-shaped result is filtered by
     * its shape whatever its id: another number, the same digits as a string, the rounded id, no id.
     */
    @Test
    void listFilterFailsOpenOnIdMismatch(@TempDir Path dir) throws Exception {
        ListFilter filter = filter(dir, "tools/list", "9007199254740993");
        for (String id : List.of("2", "\"9007199254740993\"", "9007199254740992", "null")) {
            byte[] answer = ("{\"jsonrpc\":\"2.0\",\"id\":" + id + ",\"result\":{\"tools\":[{\"name\":\"read_file\"},"
                    + "{\"name\":\"rm\"}]}}").getBytes(StandardCharsets.UTF_8);
            JsonNode out = json.readTree(filter.filterJson(answer));
            assertThat(out.at("/result/tools")).as("id " + id).extracting(t -> t.path("name").asText()).containsExactly("read_file");
        }
        // Without attribution a 2026-07-28 list is still the caller's own: never cached for others (V26-32).
        ListFilter modern = modernFilter(policyRoute(dir), "tools/list");
        JsonNode out = json.readTree(modern.filterJson(("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"cacheScope\":\"public\","
                + "\"ttlMs\":600000,\"tools\":[{\"name\":\"rm\"}]}}").getBytes(StandardCharsets.UTF_8)));
        assertThat(out.at("/result/tools")).isEmpty();
        assertThat(out.at("/result/cacheScope").asText()).isEqualTo("private");
        assertThat(out.at("/result/ttlMs").asLong()).isEqualTo(2000);
    }

    /**
     * Issue 12 item 2: {@code [{"jsonrpc":"2.0","id":1,"method":"tools/list"}]} returned every tool. Every
     * element of a batch answer is filtered, each list by its kind (tools, prompts, templates, resources).
     */
    @Test
    void batchedListResultsWereNotFiltered(@TempDir Path dir) throws Exception {
        byte[] batch = ("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"},{\"jsonrpc\":\"2.0\",\"id\":2,"
                + "\"method\":\"prompts/list\"},{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/templates/list\"},"
                + "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/list\"}]").getBytes(StandardCharsets.UTF_8);
        ListFilter filter = filterFor(policyRoute(dir), batch, dev.portcullis.revision.Streamable2025.REVISION, Set.of("files:read"), true);
        String answer = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"read_file\",\"inputSchema\":{}},"
                + "{\"name\":\"rm\",\"inputSchema\":{\"secret\":1}}]}},"
                + "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"prompts\":[{\"name\":\"hidden_prompt\"}]}},"
                + "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"resourceTemplates\":[{\"uriTemplate\":\"file:///secret/{x}\"}]}},"
                + "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"resources\":[{\"uri\":\"file:///public/a\"},{\"uri\":\"file:///secret/b\"}]}}]";
        JsonNode out = json.readTree(filter.filterJson(answer.getBytes(StandardCharsets.UTF_8)));
        assertThat(out).hasSize(4);
        assertThat(out.at("/0/result/tools")).extracting(t -> t.path("name").asText()).containsExactly("read_file");
        assertThat(out.at("/1/result/prompts")).isEmpty();
        assertThat(out.at("/2/result/resourceTemplates")).isEmpty();
        assertThat(out.at("/3/result/resources")).extracting(t -> t.path("uri").asText()).containsExactly("file:///public/a");
        // The same answer as one SSE event (an array in its data).
        byte[] event = ("id: 5\ndata: " + answer + "\n\n").getBytes(StandardCharsets.UTF_8);
        String relayed = new String(filter.filterEvent(event), StandardCharsets.UTF_8);
        assertThat(relayed).startsWith("id: 5\n").contains("read_file", "file:///public/a")
                .doesNotContain("rm", "hidden_prompt", "secret");
    }

    /**
     * Issue 12 item 3: a GET with {@code Last-Event-ID} made the upstream replay a tools/list result, which
     * was relayed whole. A GET stream (resumed or not) answers no request the gateway can name, so every
     * event on it is filtered by shape, as on first delivery.
     */
    @Test
    void resumedStreamReplayedUnfilteredResults(@TempDir Path dir) throws Exception {
        ListFilter filter = filterFor(policyRoute(dir), new byte[0], dev.portcullis.revision.Streamable2025.REVISION, Set.of("files:read"), false);
        byte[] replayed = ("id: stream-1/4\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":"
                + "[{\"name\":\"read_file\"},{\"name\":\"write_file\"}],\"nextCursor\":\"n\"}}\n\n").getBytes(StandardCharsets.UTF_8);
        String out = new String(filter.filterEvent(replayed), StandardCharsets.UTF_8);
        assertThat(out).startsWith("id: stream-1/4\nevent: message\ndata: ").contains("read_file", "\"nextCursor\":\"n\"")
                .doesNotContain("write_file");
    }

    /** Names spelled with escapes, other encodings, non-array lists: filtered or removed, never relayed whole. */
    @Test
    void listsHiddenByEncodingAreStillFiltered(@TempDir Path dir) throws Exception {
        ListFilter filter = filter(dir, "tools/call", "1");
        String escaped = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"\\u0074ools\":[{\"name\":\"rm\"}]}}";
        assertThat(json.readTree(filter.filterJson(escaped.getBytes(StandardCharsets.UTF_8))).at("/result/tools")).isEmpty();
        String plain = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"rm\"},{\"name\":\"read_file\"}]}}";
        byte[] utf16 = plain.getBytes(StandardCharsets.UTF_16BE);
        assertThat(json.readTree(filter.filterJson(utf16)).at("/result/tools")).hasSize(1);
        String notArray = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"prompts\":{\"hidden\":{\"name\":\"p\"}},\"n\":NaN}}";
        JsonNode out = json.readTree(filter.filterJson(notArray.getBytes(StandardCharsets.UTF_8)));
        assertThat(out.path("result").has("prompts")).isFalse();
    }

    /** A message that may hold a list but is not JSON the gateway can read is not relayed at all. */
    @Test
    void unreadableMessageThatMayHoldAListIsNotRelayed(@TempDir Path dir) throws Exception {
        ListFilter filter = filter(dir, "tools/list", "1");
        byte[] trailing = ("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}} {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
                + "{\"tools\":[{\"name\":\"rm\"}]}}").getBytes(StandardCharsets.UTF_8);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> filter.filterJson(trailing)).isInstanceOf(ListFilter.Unfilterable.class);
        byte[] event = ("data: {\"result\":{\"tools\":[{\"name\":\"rm\"}]}\n\n").getBytes(StandardCharsets.UTF_8);
        assertThat(filter.filterEvent(event)).isSameAs(ListFilter.DROPPED);
        // Not JSON and nothing list-like in it: passed as it is (the client refuses it itself).
        byte[] text = "upstream broke".getBytes(StandardCharsets.UTF_8);
        assertThat(filter.filterJson(text)).isSameAs(text);
    }

    @Test
    void mightHoldListIsTrueForEveryWayOfSpellingAListName() {
        for (String body : List.of("{\"tools\":1}", "{\"prompts\":1}", "{\"resources\":1}", "{\"resourceTemplates\":1}",
                "{\"\\u0074ools\":1}", "\uFEFF{}")) {
            assertThat(ListFilter.mightHoldList(body.getBytes(StandardCharsets.UTF_8))).as(body).isTrue();
        }
        assertThat(ListFilter.mightHoldList("{}".getBytes(StandardCharsets.UTF_16LE))).isTrue();
        assertThat(ListFilter.mightHoldList("{\"result\":{\"content\":[]}}".getBytes(StandardCharsets.UTF_8))).isFalse();
    }

    @Test
    void v26_32ModernListsArePrivateAndTtlNeverExceedsTheReloadInterval(@TempDir Path dir) throws Exception {
        ListFilter filter = modernFilter(policyRoute(dir), "tools/list");
        String response = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"complete\",\"ttlMs\":600000,"
                + "\"cacheScope\":\"public\",\"tools\":[{\"name\":\"read_file\"}]}}";
        JsonNode out = json.readTree(filter.filterJson(response.getBytes(StandardCharsets.UTF_8)));
        assertThat(out.at("/result/cacheScope").asText()).isEqualTo("private");
        assertThat(out.at("/result/ttlMs").asLong()).isEqualTo(2000);
        String shortTtl = response.replace("600000", "500");
        assertThat(json.readTree(filter.filterJson(shortTtl.getBytes(StandardCharsets.UTF_8))).at("/result/ttlMs").asLong())
                .isEqualTo(500); // V26-33: never raised
    }

    @Test
    void v26_5DiscoverOffersOnlyVersionsTheGatewayPolicesEvenWithoutAPolicy() throws Exception {
        Route route = Route.compile(routeConfig(null), List.of("https://idp"), dev.portcullis.policy.Policy.authenticatedOnly());
        ListFilter filter = modernFilter(route, "server/discover");
        String response = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"supportedVersions\":[\"2027-01-01\",\"2026-07-28\","
                + "\"2025-11-25\"],\"capabilities\":{}}}";
        JsonNode out = json.readTree(filter.filterJson(response.getBytes(StandardCharsets.UTF_8)));
        assertThat(out.at("/result/supportedVersions")).extracting(JsonNode::asText).containsExactly("2026-07-28", "2025-11-25");
        assertThat(out.at("/result/capabilities").isObject()).isTrue();
    }

    /** V26-5: capabilities the caller can never use are not offered; the hints stay, made private. */
    @Test
    void v26_5DiscoverDropsCapabilitiesTheCallerCanNeverUse(@TempDir Path dir) throws Exception {
        Route route = policyRoute(dir);
        byte[] request = ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{\"_meta\":"
                + "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}").getBytes(StandardCharsets.UTF_8);
        byte[] response = ("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"complete\",\"supportedVersions\":"
                + "[\"2026-07-28\"],\"capabilities\":{\"tools\":{\"listChanged\":true},\"prompts\":{},\"resources\":"
                + "{\"subscribe\":true},\"completions\":{},\"experimental\":{\"x\":{}}},\"ttlMs\":3600000,"
                + "\"cacheScope\":\"public\"}}").getBytes(StandardCharsets.UTF_8);

        // files:read sees read_file and file:///public/**: tools and resources stay; no prompt rule, no
        // completion/complete rule under default: deny, so neither is offered.
        JsonNode reader = json.readTree(filterFor(route, request, dev.portcullis.revision.Stateless2026.REVISION)
                .filterJson(response)).path("result");
        assertThat(reader.path("capabilities").fieldNames()).toIterable()
                .containsExactlyInAnyOrder("tools", "resources", "experimental");
        assertThat(reader.at("/capabilities/tools/listChanged").asBoolean()).isTrue();
        assertThat(reader.path("resultType").asText()).isEqualTo("complete");
        assertThat(reader.path("ttlMs").asLong()).isEqualTo(2000);
        assertThat(reader.path("cacheScope").asText()).isEqualTo("private");
        assertThat(reader.path("supportedVersions")).extracting(JsonNode::asText).containsExactly("2026-07-28");

        // No scope at all: every tool and resource needs one, so the caller can use none of them.
        JsonNode nobody = json.readTree(filterFor(route, request, dev.portcullis.revision.Stateless2026.REVISION, Set.of())
                .filterJson(response)).path("result");
        assertThat(nobody.path("capabilities").fieldNames()).toIterable().containsExactly("experimental");
        assertThat(nobody.path("cacheScope").asText()).isEqualTo("private");
    }

    @Test
    void sseEventWithTheListIsRewrittenKeepingItsId(@TempDir Path dir) throws Exception {
        byte[] event = ("event: message\nid: ev-9\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":"
                + "[{\"name\":\"read_file\"},{\"name\":\"write_file\"}]}}\n\n").getBytes(StandardCharsets.UTF_8);
        String out = new String(filter(dir, "tools/list", "1").filterEvent(event), StandardCharsets.UTF_8);
        assertThat(out).startsWith("event: message\nid: ev-9\ndata: ").contains("read_file").doesNotContain("write_file").endsWith("\n\n");
    }
}
