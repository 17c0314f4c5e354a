package dev.portcullis.authz;

import dev.portcullis.inspect.InspectedRequest;
import dev.portcullis.policy.Decision;
import java.util.List;
import java.util.Objects;

/**
 * An inspected request policy allowed, in whole or (a 2025-03-26 batch on a {@code batches: partial}
 * route) in part; one decision per message of the inspected request, in order.
 *
 * @param inspected    the request as the client sent it
 * @param decisions    one per message of {@code inspected}, in order
 * @param upstreamBody what is sent upstream: the client's bytes, or a narrowed body (a batch without its
 *                     refused elements: POLICY-07; a {@code subscriptions/listen} filter without what the
 *                     caller may not see: V26-22)
 * @param partialBatch for a batch forwarded in part, its refused elements (answered by the gateway), else null
 */
public record AuthorizedRequest(InspectedRequest inspected, List<Decision> decisions, byte[] upstreamBody,
                                PartialBatch partialBatch) {
    public AuthorizedRequest {
        decisions = List.copyOf(decisions);
        Objects.requireNonNull(upstreamBody, "upstreamBody");
    }

    /** Every message allowed; the client's bytes are forwarded as they are. */
    public AuthorizedRequest(InspectedRequest inspected, List<Decision> decisions) {
        this(inspected, decisions, inspected.body(), null);
    }

    AuthorizedRequest withUpstreamBody(byte[] body) {
        return new AuthorizedRequest(inspected, decisions, body, partialBatch);
    }
}
