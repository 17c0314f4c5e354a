package dev.portcullis.inspect;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.authn.AuthenticatedRequest;
import java.util.List;
import java.util.Optional;

/**
 * An authenticated request with its body read (bounded) and classified.
 *
 * @param authenticated     the previous stage's value
 * @param body              the original bytes, forwarded as they are
 * @param messages          the classified messages; empty for GET and DELETE
 * @param batch             whether the body was a JSON array
 * @param era               which revision's rules the request follows (V26-1)
 * @param version           the modern envelope's protocol version, or null for legacy requests
 * @param upstreamSessionId the upstream's session id behind the gateway session id the request carried
 *                          (legacy only: modern requests have no sessions, V26-15)
 */
public record InspectedRequest(AuthenticatedRequest authenticated, byte[] body, List<McpMessage> messages, boolean batch,
                               Era era, String version, Optional<String> upstreamSessionId) {
    public InspectedRequest {
        messages = List.copyOf(messages);
    }

    public InspectedRequest(AuthenticatedRequest authenticated, byte[] body, List<McpMessage> messages, boolean batch) {
        this(authenticated, body, messages, batch, Era.LEGACY, null, Optional.empty());
    }

    public dev.portcullis.route.Route route() {
        return authenticated.routed().route();
    }

    public dev.portcullis.authn.Principal principal() {
        return authenticated.principal();
    }

    public String requestId() {
        return authenticated.routed().requestId();
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
