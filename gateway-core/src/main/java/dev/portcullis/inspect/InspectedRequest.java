package dev.portcullis.inspect;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.authn.AuthenticatedRequest;
import java.util.List;

/**
 * An authenticated request with its body read (bounded) and classified.
 *
 * @param authenticated the previous stage's value
 * @param body          the original bytes, forwarded as they are
 * @param messages      the classified messages; empty for GET and DELETE
 * @param batch         whether the body was a JSON array
 */
public record InspectedRequest(AuthenticatedRequest authenticated, byte[] body, List<McpMessage> messages, boolean batch) {
    public InspectedRequest {
        messages = List.copyOf(messages);
    }

    /** The id to put on a gateway-made error: the single request's id; none for batches and notifications. */
    public JsonNode errorId() {
        if (batch || messages.size() != 1) {
            return null;
        }
        McpMessage only = messages.get(0);
        return only.kind() == McpMessage.Kind.REQUEST ? only.id() : null;
    }
}
