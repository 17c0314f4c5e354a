package dev.portcullis.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.pin.Definitions;
import dev.portcullis.pin.Pin;
import dev.portcullis.pin.PinKind;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Issue 17: the definitions an upstream MCP server lists now, read the way the gateway reads them (its JSON parsed as
 * the list filter parses it: {@link Definitions#JSON}), for {@code portcullis pin} and {@code check --against-upstream}.
 * A plain streamable-HTTP MCP client (2025-03-26 and later): {@code initialize} (its session id kept),
 * {@code notifications/initialized}, then each list method, page by page ({@code nextCursor}), and the session ended
 * with DELETE. Answers may be JSON or an SSE stream. The token, if any, is sent as a bearer token and never printed.
 */
final class UpstreamLists {
    /** The protocol revision offered; the upstream answers with the one it speaks. */
    static final String PROTOCOL_VERSION = "2025-11-25";
    /** A list longer than this many pages is refused (an upstream that never stops paging). */
    static final int MAX_PAGES = 1000;
    /** The most one answer may hold. */
    static final int MAX_ANSWER_BYTES = 16 * 1024 * 1024;

    /** The upstream could not be listed: one line for the operator. */
    static final class Unreachable extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Unreachable(String message) {
            super(message, null, false, false);
        }
    }

    private final HttpClient http;
    private final URI upstream;
    private final String bearer;
    private final Duration timeout;
    private String session;
    /** The negotiated revision, sent as {@code MCP-Protocol-Version} on every request after {@code initialize}. */
    private String version;
    private int nextId = 1;

    private UpstreamLists(URI upstream, String bearer, Duration connectTimeout, Duration timeout) {
        this.http = HttpClient.newBuilder().connectTimeout(connectTimeout).followRedirects(HttpClient.Redirect.NEVER).build();
        this.upstream = upstream;
        this.bearer = bearer;
        this.timeout = timeout;
    }

    /**
     * Each of {@code kinds}, as the upstream lists them now: pins of the definitions by name, in the order listed.
     * A kind whose capability the upstream does not offer is empty.
     */
    static Map<PinKind, Map<String, Pin>> list(URI upstream, Optional<String> bearer, Duration connectTimeout,
                                               Duration timeout, List<PinKind> kinds) {
        UpstreamLists client = new UpstreamLists(upstream, bearer.orElse(null), connectTimeout, timeout);
        try {
            JsonNode capabilities = client.initialize();
            Map<PinKind, Map<String, Pin>> listed = new EnumMap<>(PinKind.class);
            for (PinKind kind : kinds) {
                String capability = kind == PinKind.TOOLS ? "tools" : kind == PinKind.PROMPTS ? "prompts" : "resources";
                listed.put(kind, capabilities.has(capability) ? client.all(kind) : Map.of());
            }
            return listed;
        } finally {
            client.end();
        }
    }

    private JsonNode initialize() {
        ObjectNode params = Definitions.JSON.createObjectNode();
        params.put("protocolVersion", PROTOCOL_VERSION);
        params.putObject("capabilities");
        params.putObject("clientInfo").put("name", "portcullis-pin").put("version", "0.1.0");
        Answer answer = request("initialize", params);
        JsonNode result = answer.result();
        if (answer.session() != null) {
            session = answer.session();
        }
        version = result.path("protocolVersion").isTextual() ? result.path("protocolVersion").textValue() : PROTOCOL_VERSION;
        notifyInitialized();
        return result.path("capabilities");
    }

    private Map<String, Pin> all(PinKind kind) {
        Map<String, Pin> items = new LinkedHashMap<>();
        String cursor = null;
        for (int page = 0; page < MAX_PAGES; page++) {
            ObjectNode params = Definitions.JSON.createObjectNode();
            if (cursor != null) {
                params.put("cursor", cursor);
            }
            JsonNode result = request(kind.listMethod(), params).result();
            JsonNode list = result.get(kind.listField());
            if (list == null || !list.isArray()) {
                throw new Unreachable(kind.listMethod() + ": the answer has no " + kind.listField() + " array");
            }
            for (JsonNode item : list) {
                JsonNode name = item.get(kind.nameField());
                if (name == null || !name.isTextual()) {
                    throw new Unreachable(kind.listMethod() + ": an item without a " + kind.nameField()
                            + " (the gateway would hide it)");
                }
                if (items.containsKey(name.textValue())) {
                    throw new Unreachable(kind.listMethod() + ": " + kind.singular() + " \"" + name.textValue()
                            + "\" is listed twice; pin an upstream that lists each once");
                }
                items.put(name.textValue(), Pin.of(kind, Definitions.of(kind, item)));
            }
            JsonNode next = result.get("nextCursor");
            if (next == null || next.isNull() || (next.isTextual() && next.textValue().isEmpty())) {
                return items;
            }
            cursor = next.asText();
        }
        throw new Unreachable(kind.listMethod() + ": more than " + MAX_PAGES + " pages");
    }

    private record Answer(JsonNode result, String session) {}

    private Answer request(String method, ObjectNode params) {
        int id = nextId++;
        ObjectNode message = Definitions.JSON.createObjectNode();
        message.put("jsonrpc", "2.0").put("id", id).put("method", method).set("params", params);
        HttpResponse<byte[]> response = send(post(message), method);
        if (response.statusCode() != 200) {
            throw new Unreachable(method + ": the upstream answered HTTP " + response.statusCode()
                    + (response.statusCode() == 401 || response.statusCode() == 403
                    ? " (the upstream refused the credential; see docs/pinning.md for how pin authenticates)" : ""));
        }
        String type = response.headers().firstValue("Content-Type").orElse("").toLowerCase(java.util.Locale.ROOT);
        JsonNode answer = type.startsWith("text/event-stream") ? fromEvents(response.body(), id, method)
                : parse(response.body(), method);
        JsonNode error = answer.get("error");
        if (error != null) {
            throw new Unreachable(method + ": the upstream answered error " + error.path("code").asText() + " "
                    + error.path("message").asText());
        }
        JsonNode result = answer.get("result");
        if (result == null || !result.isObject()) {
            throw new Unreachable(method + ": the answer has no result");
        }
        return new Answer(result, response.headers().firstValue("Mcp-Session-Id").orElse(null));
    }

    private void notifyInitialized() {
        ObjectNode message = Definitions.JSON.createObjectNode();
        message.put("jsonrpc", "2.0").put("method", "notifications/initialized");
        HttpResponse<byte[]> response = send(post(message), "notifications/initialized");
        if (response.statusCode() / 100 != 2) {
            throw new Unreachable("notifications/initialized: the upstream answered HTTP " + response.statusCode());
        }
    }

    private HttpRequest post(ObjectNode message) {
        HttpRequest.Builder request = base().header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(message.toString().getBytes(StandardCharsets.UTF_8)));
        return request.build();
    }

    private HttpRequest.Builder base() {
        HttpRequest.Builder request = HttpRequest.newBuilder(upstream).timeout(timeout);
        if (bearer != null) {
            request.header("Authorization", "Bearer " + bearer);
        }
        if (session != null) {
            request.header("Mcp-Session-Id", session);
        }
        if (version != null) {
            request.header("MCP-Protocol-Version", version); // 2025-06-18 and later: on every request after initialize
        }
        return request;
    }

    private HttpResponse<byte[]> send(HttpRequest request, String what) {
        try {
            HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
            if (response.body() != null && response.body().length > MAX_ANSWER_BYTES) {
                throw new Unreachable(what + ": the answer is larger than " + MAX_ANSWER_BYTES + " bytes");
            }
            return response;
        } catch (IOException e) {
            throw new Unreachable(what + ": " + upstream + " cannot be reached (" + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Unreachable(what + ": interrupted");
        }
    }

    private static JsonNode parse(byte[] body, String what) {
        try {
            JsonNode node = Definitions.JSON.readTree(body);
            if (node == null || !node.isObject()) {
                throw new Unreachable(what + ": the answer is not one JSON-RPC message");
            }
            return node;
        } catch (IOException e) {
            throw new Unreachable(what + ": the answer is not JSON");
        }
    }

    /** The answer to request {@code id} among the events of an SSE stream (other events are skipped). */
    private static JsonNode fromEvents(byte[] body, int id, String what) {
        String text = new String(body, StandardCharsets.UTF_8).replace("\r\n", "\n").replace('\r', '\n');
        for (String event : text.split("\n\n")) {
            StringBuilder data = new StringBuilder();
            for (String line : event.split("\n")) {
                if (line.startsWith("data:")) {
                    String value = line.substring(5);
                    data.append(data.length() > 0 ? "\n" : "").append(value.startsWith(" ") ? value.substring(1) : value);
                }
            }
            if (data.length() == 0) {
                continue;
            }
            JsonNode message;
            try {
                message = Definitions.JSON.readTree(data.toString());
            } catch (IOException e) {
                continue;
            }
            if (message != null && message.path("id").canConvertToInt() && message.path("id").asInt() == id
                    && (message.has("result") || message.has("error"))) {
                return message;
            }
        }
        throw new Unreachable(what + ": the event stream ended without the answer");
    }

    /** Ends the session (best effort: an upstream may not support DELETE). */
    private void end() {
        if (session == null) {
            return;
        }
        try {
            http.send(base().DELETE().build(), HttpResponse.BodyHandlers.discarding());
        } catch (IOException e) {
            // nothing to do: the session expires upstream
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
