package dev.portcullis.inspect;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.authn.AuthenticatedRequest;
import dev.portcullis.authn.Principal;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.revision.McpRevision;
import dev.portcullis.route.Route;
import java.util.List;
import java.util.Optional;

/**
 * An authenticated request with its body read (bounded) and classified: the request as the client sent it,
 * the value inspect hands to authorize. Flat: what the earlier stages learned is a component of its own.
 *
 * @param head              the request head, read once by the listener
 * @param route             the route it matched
 * @param requestId         a gateway-generated id for logs and audit
 * @param principal         who is calling
 * @param body              the original bytes, forwarded as they are
 * @param messages          the classified messages; empty for GET and DELETE
 * @param batch             whether the body was a JSON array
 * @param revision          the revision whose rules the request follows, chosen from the body (V26-1)
 * @param upstreamSessionId the upstream's session id behind the gateway session id the request carried
 *                          (session revisions only: 2026-07-28 requests have none, V26-15)
 */
public record InspectedRequest(RequestHead head, Route route, String requestId, Principal principal, byte[] body,
                               List<McpMessage> messages, boolean batch, McpRevision revision,
                               Optional<String> upstreamSessionId) {
    public InspectedRequest {
        messages = List.copyOf(messages);
    }

    /** The authenticated request with what inspect read and decided. */
    public InspectedRequest(AuthenticatedRequest authenticated, byte[] body, List<McpMessage> messages, boolean batch,
                            McpRevision revision, Optional<String> upstreamSessionId) {
        this(authenticated.head(), authenticated.route(), authenticated.requestId(), authenticated.principal(), body,
                messages, batch, revision, upstreamSessionId);
    }

    /** A request of the route's session revision without a session (tests of the later stages). */
    public InspectedRequest(AuthenticatedRequest authenticated, byte[] body, List<McpMessage> messages, boolean batch) {
        this(authenticated, body, messages, batch, McpRevision.of(authenticated.route(), List.of(), false), Optional.empty());
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
