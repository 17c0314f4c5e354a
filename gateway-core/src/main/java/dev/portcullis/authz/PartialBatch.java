package dev.portcullis.authz;

import dev.portcullis.failure.GatewayFailure;
import java.util.List;
import java.util.Map;

/**
 * A 2025-03-26 batch forwarded without its refused elements (POLICY-07 with {@code batches: partial}).
 * The gateway answers each refused request itself; the forward stage merges those errors into the
 * upstream's answer (the JSON array, or one more event on its SSE stream).
 *
 * @param refused the refusal of each refused element, by its index in the client's batch (notifications
 *                included: they are dropped, and never answered: JSONRPC-06)
 */
public record PartialBatch(Map<Integer, GatewayFailure> refused) {
    public PartialBatch {
        refused = Map.copyOf(refused);
    }

    /** The refusals that get a JSON-RPC error (those of requests), in batch order. */
    public List<GatewayFailure> answered() {
        return refused.entrySet().stream()
                .filter(e -> e.getValue().jsonRpcId() != null)
                .sorted(Map.Entry.comparingByKey())
                .map(Map.Entry::getValue)
                .toList();
    }
}
