package dev.portcullis.forward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.authz.AuthorizedRequest;
import dev.portcullis.inspect.Era;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.policy.ItemKind;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.Subject;
import java.io.IOException;
import java.util.Optional;

/**
 * Removes from a list result ({@code tools/list}, {@code resources/list},
 * {@code resources/templates/list}, {@code prompts/list}) what the caller may not use, so a caller
 * never sees a tool it may not call (POLICY-05). Only the list array changes: {@code nextCursor}
 * and every other field are kept, and each kept item is left untouched (its {@code inputSchema}
 * included: V26-13). An item without the field that names it is dropped (fail closed). For
 * 2026-07-28 requests the result's cache hints are made safe (V26-32, V26-33).
 */
final class ListFilter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final JsonNode id;
    private final ItemKind kind;
    private final Subject subject;
    private final Policy policy;
    /** For 2026-07-28 requests: the {@code ttlMs} ceiling (the policy reload interval), else -1. */
    private final long maxTtlMillis;
    /** A {@code server/discover} result: versions narrowed, and capabilities the caller can never use removed. */
    private final boolean discover;

    private ListFilter(JsonNode id, ItemKind kind, Subject subject, Policy policy, long maxTtlMillis) {
        this(id, kind, subject, policy, maxTtlMillis, false);
    }

    private ListFilter(JsonNode id, ItemKind kind, Subject subject, Policy policy, long maxTtlMillis, boolean discover) {
        this.id = id;
        this.kind = kind;
        this.subject = subject;
        this.policy = policy;
        this.maxTtlMillis = maxTtlMillis;
        this.discover = discover;
    }

    /** Jackson builds deserializers on first use under a lock: done at start, not on an event loop. */
    static void warm() {
        anyListResult(null, null).filterJson("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":[1.5,true,null]}}"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** A filter when the request is a single list request on a route whose policy can hide items. */
    static Optional<ListFilter> forRequest(AuthorizedRequest authorized) {
        var inspected = authorized.inspected();
        var route = inspected.authenticated().routed().route();
        if (inspected.batch() || inspected.messages().size() != 1) {
            return Optional.empty();
        }
        McpMessage message = inspected.messages().get(0);
        if (message.kind() != McpMessage.Kind.REQUEST) {
            return Optional.empty();
        }
        if (!route.filtersLists()) {
            // V26-5 holds on every route: discover results only offer versions the gateway polices.
            return message.method().equals("server/discover") && inspected.era() == Era.MODERN
                    ? Optional.of(new ListFilter(message.id(), null, null, route.policy(), Long.MAX_VALUE, true))
                    : Optional.empty();
        }
        long maxTtl = inspected.era() == Era.MODERN ? route.config().policyReloadInterval().toMillis() : -1;
        Optional<ItemKind> kind = ItemKind.listedBy(message.method());
        if (kind.isPresent()) {
            return Optional.of(new ListFilter(message.id(), kind.get(), inspected.authenticated().principal().asSubject(),
                    route.policy(), maxTtl));
        }
        // Other cacheable 2026 results whose answer policy can make differ between callers (V26-32).
        if (maxTtl >= 0 && (message.method().equals("resources/read") || message.method().equals("server/discover"))) {
            return Optional.of(new ListFilter(message.id(), null, inspected.authenticated().principal().asSubject(),
                    route.policy(), maxTtl, message.method().equals("server/discover")));
        }
        return Optional.empty();
    }

    /**
     * For a 2024-11-05 GET stream: every result on it that carries a list (the requests were POSTed
     * elsewhere, so the ids are not known here) is filtered by the shape of its result.
     */
    static ListFilter anyListResult(Subject subject, Policy policy) {
        return new ListFilter(null, null, subject, policy, -1);
    }

    /** A JSON body: the filtered response, or the body unchanged when it is not this request's list result. */
    byte[] filterJson(byte[] body) {
        try {
            JsonNode message = JSON.readTree(body);
            return filtered(message) ? JSON.writeValueAsBytes(message) : body;
        } catch (IOException e) {
            return body;
        }
    }

    /** One SSE event: rewritten only when its data is this request's list result. */
    byte[] filterEvent(byte[] event) {
        String data = SseEvents.data(event);
        if (data == null || data.isEmpty()) {
            return event;
        }
        try {
            JsonNode message = JSON.readTree(data);
            return filtered(message) ? SseEvents.withData(event, JSON.writeValueAsString(message)) : event;
        } catch (IOException e) {
            return event;
        }
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
            if (version.isTextual() && (Era.MODERN_VERSIONS.contains(version.textValue())
                    || Era.LEGACY_VERSIONS.contains(version.textValue()))) {
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
        if (offered.has("tools") && !policy.visibility(subject, ItemKind.TOOL).any()) {
            offered.remove("tools");
        }
        if (offered.has("prompts") && !policy.visibility(subject, ItemKind.PROMPT).any()) {
            offered.remove("prompts");
        }
        if (offered.has("resources") && !policy.visibility(subject, ItemKind.RESOURCE).any()
                && !policy.visibility(subject, ItemKind.RESOURCE_TEMPLATE).any()) {
            offered.remove("resources");
        }
        if (offered.has("completions") && policy.decide(subject, dev.portcullis.policy.Operation.method("completion/complete"))
                .outcome() == dev.portcullis.policy.Decision.Outcome.DENY) {
            offered.remove("completions");
        }
    }

    /** Filters whichever list arrays the result holds (a 2024-11-05 stream result of unknown request). */
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

    /** Filters in place; true when the message was this request's result and was filtered. */
    private boolean filtered(JsonNode message) {
        if (message == null || !message.isObject() || (id != null && !sameId(id, message.get("id")))) {
            return false;
        }
        JsonNode result = message.get("result");
        if (result == null || !result.isObject()) {
            return false;
        }
        if (id == null && subject != null) {
            return filterByShape((ObjectNode) result);
        }
        if (maxTtlMillis >= 0 && maxTtlMillis != Long.MAX_VALUE) {
            cacheHints((ObjectNode) result);
        }
        if (discover) {
            narrowSupportedVersions((ObjectNode) result);
            if (subject != null) {
                narrowCapabilities((ObjectNode) result);
            }
        }
        if (kind == null) {
            return maxTtlMillis >= 0;
        }
        return filterItems((ObjectNode) result, kind);
    }

    private boolean filterItems(ObjectNode result, ItemKind itemKind) {
        JsonNode items = result.get(field(itemKind));
        if (items == null || !items.isArray()) {
            return false;
        }
        ArrayNode kept = JSON.createArrayNode();
        for (JsonNode item : items) {
            JsonNode name = item.get(nameField(itemKind));
            if (name != null && name.isTextual() && policy.visible(subject, itemKind, name.textValue())) {
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
