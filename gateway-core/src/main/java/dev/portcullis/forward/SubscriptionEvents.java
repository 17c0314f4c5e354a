package dev.portcullis.forward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.inspect.McpMessage;

/**
 * {@code subscription-injection}: a 2026-07-28 {@code subscriptions/listen} stream (V26-20). When the route
 * filters lists and the upstream acknowledged, the gateway's own {@code list_changed} events (a policy reload
 * changed what the caller may see, V26-34) join the stream after the upstream's first event, tagged with the
 * subscription's id ({@link ListenStreams}); when the gateway ends the stream (token expiry, shutdown) its last
 * event is the listen request's result, so the client knows to listen again (V26-21).
 */
final class SubscriptionEvents implements ReplyTransform {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final McpMessage listen;
    private final boolean listChanges;

    /**
     * @param listen      the {@code subscriptions/listen} request
     * @param listChanges whether the gateway's {@code list_changed} events join the stream
     */
    SubscriptionEvents(McpMessage listen, boolean listChanges) {
        this.listen = listen;
        this.listChanges = listChanges;
    }

    @Override
    public String name() {
        return "subscription-injection";
    }

    boolean listChanges() {
        return listChanges;
    }

    /** The subscription's id: the listen request's id. */
    JsonNode subscriptionId() {
        return listen.id();
    }

    /** The client's filter ({@code params.notifications}), or null. */
    JsonNode notifications() {
        return listen.params() == null ? null : listen.params().get("notifications");
    }

    /** The last event of a stream the gateway ends: the listen request's result, tagged with the subscription. */
    byte[] closing() {
        ObjectNode message = JSON.createObjectNode();
        message.put("jsonrpc", "2.0");
        message.set("id", listen.id());
        ObjectNode result = message.putObject("result");
        result.put("resultType", "complete");
        result.putObject("_meta").set(Forward.SUBSCRIPTION_ID_KEY, listen.id());
        return SseEvents.event(message.toString());
    }
}
