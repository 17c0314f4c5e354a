package dev.portcullis.forward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * What a draining gateway (issue 14) says to a call the shutdown grace cut: a JSON-RPC error carrying the
 * request's id, so the client fails that call at once instead of waiting for its own timeout. The code is
 * the standard internal error, {@code -32603}: inside both revisions' allocations (V26-26 keeps
 * gateway-made codes out of {@code -32099…-32020} and avoids {@code -32000…-32019}).
 */
final class Drain {
    static final String MESSAGE = "Gateway shutting down";
    static final int CODE = -32603;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Drain() {}

    /** One {@code event: message} with the error for request {@code id}. */
    static byte[] shuttingDownEvent(JsonNode id) {
        ObjectNode message = JSON.createObjectNode();
        message.put("jsonrpc", "2.0");
        message.set("id", id);
        ObjectNode error = message.putObject("error");
        error.put("code", CODE);
        error.put("message", MESSAGE);
        error.putObject("data").put("reason", "the gateway is shutting down and the call did not finish within its "
                + "shutdown grace; it may be retried");
        return SseEvents.event(message.toString());
    }

    /** Removes from {@code unanswered} the ids of the responses (one, or a batch) that {@code event} carries. */
    static void answered(byte[] event, List<JsonNode> unanswered) {
        String data = SseEvents.data(event);
        if (data == null || !data.contains("\"id\"")) {
            return;
        }
        JsonNode parsed;
        try {
            parsed = JSON.readTree(data);
        } catch (java.io.IOException | RuntimeException notJson) {
            return;
        }
        if (parsed == null) {
            return;
        }
        if (parsed.isArray()) {
            parsed.forEach(each -> answeredOne(each, unanswered));
        } else {
            answeredOne(parsed, unanswered);
        }
    }

    private static void answeredOne(JsonNode message, List<JsonNode> unanswered) {
        if (message.isObject() && message.has("id") && !message.has("method")
                && (message.has("result") || message.has("error"))) {
            unanswered.remove(message.get("id"));
        }
    }
}
