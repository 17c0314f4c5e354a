package dev.portcullis.forward;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;

/**
 * {@code list-filter}: every list result the upstream sends is narrowed to what the caller may see (POLICY-05),
 * and a 2026-07-28 result gets safe cache hints (V26-32/33); see {@link ListFilter}. A whole answer that may hold
 * a list but cannot be read is not relayed (502); such an event is dropped.
 */
final class ListFiltering implements ReplyTransform {
    private final ListFilter filter;
    private final boolean sparesEndpointEvents;

    ListFiltering(ListFilter filter) {
        this(filter, false);
    }

    /**
     * @param sparesEndpointEvents on a 2024-11-05 caller stream: an {@code endpoint} event the gateway rewrote
     *                             ({@link EndpointRewrite}) holds the gateway's own URL, not the upstream's words
     */
    ListFiltering(ListFilter filter, boolean sparesEndpointEvents) {
        this.filter = filter;
        this.sparesEndpointEvents = sparesEndpointEvents;
    }

    @Override
    public String name() {
        return "list-filter";
    }

    @Override
    public byte[] body(byte[] body) {
        try {
            return filter.filterJson(body);
        } catch (ListFilter.Unfilterable e) {
            throw GatewayFailure.of(Reason.UPSTREAM_UNAVAILABLE, "Upstream MCP server unavailable", e.getMessage());
        }
    }

    @Override
    public byte[] event(byte[] event) {
        if (sparesEndpointEvents && EndpointRewrite.announcesEndpoint(event)) {
            return event;
        }
        byte[] filtered = filter.filterEvent(event);
        return filtered == ListFilter.DROPPED ? DROPPED : filtered;
    }
}
