package dev.portcullis.authz;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.policy.ItemKind;
import dev.portcullis.policy.Operation;
import dev.portcullis.policy.Policy;
import dev.portcullis.policy.Subject;
import java.io.IOException;
import java.util.Map;

/**
 * V26-22: a 2026-07-28 {@code subscriptions/listen} filter ({@code params.notifications}) narrowed to
 * what the caller may see before it is forwarded, so the upstream's acknowledgment lists the reduced set:
 * {@code resourceSubscriptions} keeps only URIs policy lets the caller read; a list-change flag
 * ({@code toolsListChanged}, {@code promptsListChanged}, {@code resourcesListChanged}) goes when the caller
 * may see nothing of that list. Filter keys the gateway does not know are removed (deny by default).
 * Everything else in the request is kept.
 */
public final class SubscriptionFilter {
    public static final String METHOD = dev.portcullis.revision.Stateless2026.LISTEN;
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
            .build();
    /** The list-change flags of a filter, with the kinds of item each list holds. */
    public static final Map<String, ItemKind[]> LIST_FLAGS = Map.of(
            "toolsListChanged", new ItemKind[] {ItemKind.TOOL},
            "promptsListChanged", new ItemKind[] {ItemKind.PROMPT},
            "resourcesListChanged", new ItemKind[] {ItemKind.RESOURCE, ItemKind.RESOURCE_TEMPLATE});
    private static final String SUBSCRIPTIONS = "resourceSubscriptions";

    private SubscriptionFilter() {}

    /** Jackson builds deserializers on first use under a lock: done at start, not on an event loop. */
    static void warm() {
        try {
            JSON.readTree("{\"jsonrpc\":\"2.0\",\"id\":1,\"params\":{\"notifications\":{\"a\":[1.5,true,null,\"s\"]}}}");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The body to forward: {@code body} itself when nothing had to go, else the narrowed request. */
    static byte[] narrow(byte[] body, Subject subject, Policy policy) {
        ObjectNode request;
        try {
            request = (ObjectNode) JSON.readTree(body);
        } catch (IOException | ClassCastException e) {
            return body; // cannot happen: the inspect stage parsed it as one object
        }
        JsonNode filter = request.path("params").get("notifications");
        if (filter == null || !filter.isObject()) {
            return body; // no filter: the upstream refuses the request itself
        }
        ObjectNode notifications = (ObjectNode) filter;
        boolean changed = false;
        for (var names = notifications.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!LIST_FLAGS.containsKey(name) && !name.equals(SUBSCRIPTIONS)) {
                names.remove();
                changed = true;
            }
        }
        for (Map.Entry<String, ItemKind[]> flag : LIST_FLAGS.entrySet()) {
            if (notifications.has(flag.getKey()) && !mayEverSee(subject, policy, flag.getValue())) {
                notifications.remove(flag.getKey());
                changed = true;
            }
        }
        JsonNode uris = notifications.get(SUBSCRIPTIONS);
        if (uris != null) {
            ArrayNode readable = JSON.createArrayNode();
            if (uris.isArray()) {
                for (JsonNode uri : uris) {
                    if (uri.isTextual() && policy.decide(subject, Operation.resourceRead(uri.textValue())).allowed()) {
                        readable.add(uri);
                    }
                }
            }
            if (readable.size() != (uris.isArray() ? uris.size() : -1)) {
                notifications.set(SUBSCRIPTIONS, readable);
                changed = true;
            }
        }
        if (!changed) {
            return body;
        }
        try {
            return JSON.writeValueAsBytes(request);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Whether the caller could see any item of the kinds of one list (V26-22, V26-34). */
    public static boolean mayEverSee(Subject subject, Policy policy, ItemKind... kinds) {
        for (ItemKind kind : kinds) {
            if (policy.visibility(subject, kind).any()) {
                return true;
            }
        }
        return false;
    }
}
