package dev.portcullis.forward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * V26-29: no server-initiated JSON-RPC request (a message with {@code method} and {@code id}) reaches a
 * 2026-07-28 client, on any stream: 2026-07-28 has no server→client requests (MRTR replaced them), and
 * a modern client may not POST a response. In mirror mode the gateway drops such an event; notifications
 * and responses pass untouched. (Answering the upstream with an error is for a translate mode, which
 * does not exist yet.)
 */
final class ServerRequests {
    private static final Logger log = LoggerFactory.getLogger(ServerRequests.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** What {@link #withoutRequests} returns for an event that must not be relayed at all. */
    static final byte[] DROPPED = new byte[0];

    private ServerRequests() {}

    /** Jackson builds deserializers on first use under a lock: done at start, not on an event loop. */
    static void warm() {
        withoutRequests(SseEvents.event("[{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"a\":[1.5,true,null]}}]"), "-");
    }

    /** The event, unless its data is (or, in an array, holds) a server→client request. */
    static byte[] withoutRequests(byte[] event, String route) {
        String data = SseEvents.data(event);
        if (data == null || data.isBlank()) {
            return event;
        }
        JsonNode message;
        try {
            message = JSON.readTree(data);
        } catch (IOException e) {
            return event; // not JSON: nothing a client would run as a request
        }
        if (isRequest(message)) {
            dropped(route, message);
            return DROPPED;
        }
        if (message != null && message.isArray()) {
            ArrayNode kept = JSON.createArrayNode();
            for (JsonNode element : message) {
                if (isRequest(element)) {
                    dropped(route, element);
                } else {
                    kept.add(element);
                }
            }
            if (kept.size() == message.size()) {
                return event;
            }
            return kept.isEmpty() ? DROPPED : SseEvents.withData(event, kept.toString());
        }
        return event;
    }

    static boolean isRequest(JsonNode message) {
        return message != null && message.isObject() && message.has("method") && message.has("id");
    }

    private static void dropped(String route, JsonNode request) {
        String method = request.path("method").asText("");
        // The method comes from the upstream: logged only when it looks like a method name.
        log.info("route={} dropped a server-to-client request ({}) on a 2026-07-28 stream (V26-29)", route,
                method.matches("[A-Za-z0-9/_.-]{1,64}") ? method : "?");
    }
}
