package dev.portcullis.authz;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.authn.Principal;
import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.inspect.McpMessage;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.policy.Decision;
import dev.portcullis.revision.McpRevision;
import dev.portcullis.route.Route;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * An inspected request policy allowed, in whole or (a 2025-03-26 batch on a {@code batches: partial}
 * route) in part; one decision per message of the inspected request, in order. The request as the client
 * sent it stays one value ({@link #inspected}: what audit records); everything a later stage reads of it has
 * a direct accessor here ({@link #route}, {@link #principal}, {@link #messages} …), so no stage walks through it.
 *
 * @param inspected    the request as the client sent it
 * @param decisions    one per message of {@code inspected}, in order
 * @param upstreamBody what is sent upstream: the client's bytes, or a narrowed body (a batch without its
 *                     refused elements: POLICY-07; a {@code subscriptions/listen} filter without what the
 *                     caller may not see: V26-22)
 * @param partialBatch for a batch forwarded in part, its refused elements (answered by the gateway), else null
 * @param visibility   what the caller may see in lists, as decided here: forward filters every answer with it
 *                     and never asks the policy itself
 */
public record AuthorizedRequest(InspectedRequest inspected, List<Decision> decisions, byte[] upstreamBody,
                                PartialBatch partialBatch, ListVisibility visibility) {
    public AuthorizedRequest {
        decisions = List.copyOf(decisions);
        Objects.requireNonNull(upstreamBody, "upstreamBody");
        Objects.requireNonNull(visibility, "visibility");
    }

    /** Every message allowed; the client's bytes are forwarded as they are; lists as the route's policy shows them. */
    public AuthorizedRequest(InspectedRequest inspected, List<Decision> decisions) {
        this(inspected, decisions, inspected.body(), null,
                ListVisibility.of(inspected.route(), inspected.principal().asSubject()));
    }

    AuthorizedRequest withUpstreamBody(byte[] body) {
        return new AuthorizedRequest(inspected, decisions, body, partialBatch, visibility);
    }

    public RequestHead head() {
        return inspected.head();
    }

    public Route route() {
        return inspected.route();
    }

    public String requestId() {
        return inspected.requestId();
    }

    public Principal principal() {
        return inspected.principal();
    }

    public McpRevision revision() {
        return inspected.revision();
    }

    /** The client's bytes (see {@link #upstreamBody} for what is forwarded). */
    public byte[] body() {
        return inspected.body();
    }

    /** The messages as the client sent them (see {@link #upstreamBody} for what is forwarded). */
    public List<McpMessage> messages() {
        return inspected.messages();
    }

    public boolean batch() {
        return inspected.batch();
    }

    public Optional<String> upstreamSessionId() {
        return inspected.upstreamSessionId();
    }

    /** The id to put on a gateway-made error ({@link InspectedRequest#errorId}). */
    public JsonNode errorId() {
        return inspected.errorId();
    }
}
