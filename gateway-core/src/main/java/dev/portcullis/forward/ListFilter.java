package dev.portcullis.forward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.authz.ListVisibility;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.ItemKind;
import dev.portcullis.revision.McpRevision;
import java.io.IOException;
import java.util.Optional;

/**
 * Removes from a list result ({@code tools/list}, {@code resources/list},
 * {@code resources/templates/list}, {@code prompts/list}) what the caller may not use, so a caller
 * never sees a tool it may not call (POLICY-05). Only the list array changes: {@code nextCursor}
 * and every other field are kept, and each kept item is left untouched (its {@code inputSchema}
 * included: V26-13). An item without the field that names it is dropped (fail closed). For
 * 2026-07-28 requests the result's cache hints are made safe (V26-32, V26-33).
 *
 * <p><b>Filtered by shape, wherever it travels (issue 12 items 2-4).</b> On a route with a policy every
 * message the upstream sends the caller passes here: a single JSON answer, each element of a JSON array
 * (batch answers), each SSE event (POST streams, the standalone GET stream, streams resumed with
 * {@code Last-Event-ID}, 2024-11-05 streams, 2026-07-28 listen streams), whatever request it answers.
 * Any result holding a {@code tools}, {@code prompts}, {@code resources} or {@code resourceTemplates}
 * member is filtered as the list of that kind, whether or not its id matches a request the gateway
 * saw: attribution is never needed to hide an item, so an upstream that answers with another id (a
 * JavaScript upstream rounding 2^53+1), replays an old event or batches the answers cannot leak one.
 * A list member that is not an array is removed. A message that may hold a list
 * ({@link #mightHoldList}) but cannot be parsed is not relayed at all ({@link Unfilterable}).
 * Attribution (the id of this request's single list request) only adds what is specific to the
 * request: the 2026-07-28 cache hints and the {@code server/discover} narrowing.
 */
final class ListFilter {
    /**
     * Lenient where a client may be (NaN from Python, trailing commas are not accepted by clients and
     * need not be), strict where a lenient parse could differ from the client's: trailing content fails
     * the parse, so "one JSON value followed by another" is never read as the first alone. Numbers keep
     * their digits when a message is rewritten.
     */
    private static final ObjectMapper JSON = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
            .build();
    /** What {@link #filterEvent} returns for an event that must not be relayed (it may hold a list it cannot filter). */
    static final byte[] DROPPED = new byte[0];

    /** The upstream's message may hold a list but could not be parsed: it is not relayed (fail closed). */
    static final class Unfilterable extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Unfilterable(String detail) {
            super(detail, null, false, false);
        }
    }

    /** The id of this request's single request (attributed extras apply to its answer), or null. */
    private final JsonNode id;
    /**
     * What the caller may see, as authorize decided it; null on a route without a policy: then nothing is
     * hidden, only the attributed extras apply.
     */
    private final ListVisibility visibility;
    /** For 2026-07-28 requests: the {@code ttlMs} ceiling (the policy reload interval), else -1. */
    private final long maxTtlMillis;
    /** A {@code server/discover} result: versions narrowed, and capabilities the caller can never use removed. */
    private final boolean discover;

    private ListFilter(JsonNode id, ListVisibility visibility, long maxTtlMillis, boolean discover) {
        this.id = id;
        this.visibility = visibility;
        this.maxTtlMillis = maxTtlMillis;
        this.discover = discover;
    }

    /** Jackson builds deserializers on first use under a lock: done at start, not on an event loop. */
    static void warm() {
        try {
            write(JSON.readTree("[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[1.5,true,null,NaN,\"s\"]}}]"));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The filter for every answer to this request: on a route whose policy can hide items, always (every
     * list-shaped result is filtered by shape, whatever it answers); elsewhere only for a 2026-07-28
     * {@code server/discover} (V26-5 holds on every route).
     */
    static Optional<ListFilter> forRequest(AuthorizedRequest authorized) {
        var route = authorized.route();
        McpMessage single = !authorized.batch() && authorized.messages().size() == 1
                && authorized.messages().get(0).kind() == McpMessage.Kind.REQUEST ? authorized.messages().get(0) : null;
        ListVisibility visibility = authorized.visibility();
        if (!visibility.filters()) {
            return single != null && single.method().equals("server/discover") && authorized.revision().narrowsDiscover()
                    ? Optional.of(new ListFilter(single.id(), null, Long.MAX_VALUE, true))
                    : Optional.empty();
        }
        long maxTtl = authorized.revision().cacheHintCeilingMillis(route);
        if (single == null) {
            // A batch, a GET stream (resumed or not), a notification or a response: nothing to attribute.
            return Optional.of(new ListFilter(null, visibility, maxTtl, false));
        }
        Optional<ItemKind> kind = ItemKind.listedBy(single.method());
        // Cacheable 2026 results whose answer policy can make differ between callers (V26-32) are attributed too.
        boolean attributed = kind.isPresent()
                || (maxTtl >= 0 && (single.method().equals("resources/read") || single.method().equals("server/discover")));
        return Optional.of(new ListFilter(attributed ? single.id() : null, visibility,
                maxTtl, single.method().equals("server/discover")));
    }

    /**
     * A JSON body (one message or an array of them): the filtered body, or the body itself when nothing
     * had to change.
     *
     * @throws Unfilterable when the body may hold a list but is not JSON the gateway can read
     */
    byte[] filterJson(byte[] body) {
        JsonNode parsed = parse(body);
        if (parsed == null) {
            return body;
        }
        return filteredTree(parsed) ? write(parsed) : body;
    }

    /** One SSE event: rewritten when its data holds a list (or this request's result); {@link #DROPPED} when unreadable. */
    byte[] filterEvent(byte[] event) {
        String data = SseEvents.data(event);
        if (data == null || data.isEmpty()) {
            return event;
        }
        JsonNode parsed;
        try {
            parsed = parse(data.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (Unfilterable e) {
            return DROPPED;
        }
        if (parsed == null || !filteredTree(parsed)) {
            return event;
        }
        return SseEvents.withData(event, new String(write(parsed), java.nio.charset.StandardCharsets.UTF_8));
    }

    /** The parsed message when it has to be looked at, null when it can pass as it is. */
    private JsonNode parse(byte[] body) {
        boolean listLike = visibility != null && mightHoldList(body);
        if (!listLike && id == null) {
            return null;
        }
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            if (listLike) {
                throw new Unfilterable("an upstream message that may hold a list is not readable JSON ("
                        + e.getClass().getSimpleName() + ")");
            }
            return null;
        }
    }

    /** Whether the tree changed (filtered in place): one message, or each element of an array. */
    private boolean filteredTree(JsonNode parsed) {
        if (parsed.isArray()) {
            boolean changed = false;
            for (JsonNode element : parsed) {
                changed |= filtered(element);
            }
            return changed;
        }
        return filtered(parsed);
    }

    private static byte[] write(JsonNode message) {
        try {
            return JSON.writeValueAsBytes(message);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A cheap test over the raw bytes, true for every body that could hold a list member: a list name
     * as plain ASCII, a backslash-u escape (a name may be spelled with escapes), or bytes that are not
     * plain UTF-8 JSON text (NUL or a byte-order mark: UTF-16/32, which Python's {@code json.loads}
     * reads). Only bodies passing it are parsed; false means no list can be in there.
     */
    static boolean mightHoldList(byte[] body) {
        if (body.length >= 2 && ((body[0] & 0xFF) == 0xEF || (body[0] & 0xFF) == 0xFE || (body[0] & 0xFF) == 0xFF)) {
            return true;
        }
        for (int i = 0; i < body.length; i++) {
            byte b = body[i];
            if (b == 0) {
                return true;
            }
            if (b == '\\' && i + 1 < body.length && body[i + 1] == 'u') {
                return true;
            }
            if ((b == 't' && at(body, i, TOOLS)) || (b == 'p' && at(body, i, PROMPTS))
                    || (b == 'r' && (at(body, i, RESOURCES) || at(body, i, TEMPLATES)))) {
                return true;
            }
        }
        return false;
    }

    /** Whether an answer with this {@code Content-Encoding} is bytes the filter can read (none, or identity). */
    static boolean readable(String contentEncoding) {
        return contentEncoding == null || contentEncoding.isBlank() || contentEncoding.strip().equalsIgnoreCase("identity");
    }

    private static final byte[] TOOLS = "tools".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] PROMPTS = "prompts".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] RESOURCES = "resources".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] TEMPLATES = "resourceTemplates".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private static boolean at(byte[] body, int from, byte[] word) {
        if (from + word.length > body.length) {
            return false;
        }
        for (int j = 0; j < word.length; j++) {
            if (body[from + j] != word[j]) {
                return false;
            }
        }
        return true;
    }

    /**
     * V26-32: the answer depends on the caller, so no shared cache may serve it to another: always
     * {@code cacheScope: private}. V26-33: {@code ttlMs} is never raised, and capped at the policy
     * reload interval so a cached list cannot outlive a policy change.
     */
    private void cacheHints(ObjectNode result) {
        result.put("cacheScope", "private");
        JsonNode ttl = result.get("ttlMs");
        if (ttl != null && ttl.canConvertToLong() && ttl.asLong() > maxTtlMillis) {
            result.put("ttlMs", maxTtlMillis);
        }
    }

    /**
     * V26-5: a {@code server/discover} result offers only the versions the gateway can both parse and
     * police; others the upstream may speak are removed from {@code supportedVersions}.
     */
    private static void narrowSupportedVersions(ObjectNode result) {
        JsonNode versions = result.get("supportedVersions");
        if (versions == null || !versions.isArray()) {
            return;
        }
        ArrayNode kept = JSON.createArrayNode();
        for (JsonNode version : versions) {
            if (version.isTextual() && (McpRevision.MODERN_VERSIONS.contains(version.textValue())
                    || McpRevision.LEGACY_VERSIONS.contains(version.textValue()))) {
                kept.add(version);
            }
        }
        result.set("supportedVersions", kept);
    }

    /**
     * V26-5: a {@code server/discover} result offers the caller no capability it can never use under
     * policy: {@code tools} and {@code prompts} go when the caller may see none of them, {@code resources}
     * when it may see neither resources nor templates, {@code completions} when policy denies
     * {@code completion/complete} outright. The capability objects kept are left as they are.
     */
    private void narrowCapabilities(ObjectNode result) {
        JsonNode capabilities = result.get("capabilities");
        if (capabilities == null || !capabilities.isObject()) {
            return;
        }
        ObjectNode offered = (ObjectNode) capabilities;
        if (offered.has("tools") && !visibility.mayEverSee(ItemKind.TOOL)) {
            offered.remove("tools");
        }
        if (offered.has("prompts") && !visibility.mayEverSee(ItemKind.PROMPT)) {
            offered.remove("prompts");
        }
        if (offered.has("resources") && !visibility.mayEverSee(ItemKind.RESOURCE)
                && !visibility.mayEverSee(ItemKind.RESOURCE_TEMPLATE)) {
            offered.remove("resources");
        }
        if (offered.has("completions") && !visibility.mayComplete()) {
            offered.remove("completions");
        }
    }

    /**
     * Filters every list member the result holds, by its name: {@code tools} as tools, {@code prompts} as
     * prompts, and so on, whatever request the result answers. A list member that is not an array is
     * removed (no client can read it as a list; none may read it as anything else).
     */
    private boolean filterByShape(ObjectNode result) {
        boolean changed = false;
        for (ItemKind each : ItemKind.values()) {
            if (result.has(field(each))) {
                changed |= filterItems(result, each);
            }
        }
        return changed;
    }

    /** JSON-RPC ids compare by type and value: 1 and 1 (however parsed) match, "1" and 1 do not. */
    static boolean sameId(JsonNode a, JsonNode b) {
        if (a == null || b == null) {
            return false;
        }
        if (a.isTextual() && b.isTextual()) {
            return a.textValue().equals(b.textValue());
        }
        return a.isIntegralNumber() && b.isIntegralNumber() && a.bigIntegerValue().equals(b.bigIntegerValue());
    }

    /** Filters one message in place; true when it changed (or must be rewritten for this request's extras). */
    private boolean filtered(JsonNode message) {
        if (message == null || !message.isObject()) {
            return false;
        }
        JsonNode result = message.get("result");
        if (result == null || !result.isObject()) {
            return false;
        }
        ObjectNode fields = (ObjectNode) result;
        boolean listed = visibility != null && filterByShape(fields);
        boolean attributed = id != null && sameId(id, message.get("id"));
        boolean cacheable = maxTtlMillis >= 0 && maxTtlMillis != Long.MAX_VALUE;
        if (cacheable && (attributed || listed)) {
            // A list filtered for this caller is this caller's, whichever request it answers (V26-32).
            cacheHints(fields);
        }
        if (attributed && discover) {
            narrowSupportedVersions(fields);
            if (visibility != null) {
                narrowCapabilities(fields);
            }
        }
        return listed || (attributed && (cacheable || discover));
    }

    private boolean filterItems(ObjectNode result, ItemKind itemKind) {
        JsonNode items = result.get(field(itemKind));
        if (items == null || !items.isArray()) {
            result.remove(field(itemKind));
            return true;
        }
        ArrayNode kept = JSON.createArrayNode();
        for (JsonNode item : items) {
            JsonNode name = item.get(nameField(itemKind));
            // Issue 17: an item whose definition differs from its pin is hidden too (visibility.shows).
            if (name != null && name.isTextual() && visibility.shows(itemKind, name.textValue(), item)) {
                kept.add(item);
            }
        }
        result.set(field(itemKind), kept);
        return true;
    }

    private static String field(ItemKind kind) {
        return switch (kind) {
            case TOOL -> "tools";
            case RESOURCE -> "resources";
            case RESOURCE_TEMPLATE -> "resourceTemplates";
            case PROMPT -> "prompts";
        };
    }

    private static String nameField(ItemKind kind) {
        return switch (kind) {
            case TOOL, PROMPT -> "name";
            case RESOURCE -> "uri";
            case RESOURCE_TEMPLATE -> "uriTemplate";
        };
    }

}
