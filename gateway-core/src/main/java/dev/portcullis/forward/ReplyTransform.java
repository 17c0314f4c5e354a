package dev.portcullis.forward;

import java.util.List;

/**
 * One named step of a {@link ReplyPlan}. A whole answer passes through each step's {@link #body}, an event
 * stream through each step's {@link #event} (after the events of every step's {@link #opening}), in the order
 * of the plan. Steps that act on a stream's life rather than its bytes (a subscription's closing event, the
 * end at token expiry) carry what the relay needs to act, and pass bodies and events as they are.
 */
interface ReplyTransform {
    /** What an {@link #event} step returns for an event that must not be relayed. */
    byte[] DROPPED = new byte[0];

    /** The step's name in a plan: {@code list-filter}, {@code batch-answers} … */
    String name();

    /**
     * A whole answer after this step.
     *
     * @throws dev.portcullis.failure.GatewayFailure when the answer may not be relayed at all (fail closed)
     */
    default byte[] body(byte[] body) {
        return body;
    }

    /** Events the gateway sends on a stream before the upstream's first. */
    default List<byte[]> opening() {
        return List.of();
    }

    /** One whole SSE event after this step; {@link #DROPPED} (empty) when it must not be relayed. */
    default byte[] event(byte[] event) {
        return event;
    }

    /** Whether the step needs the stream cut into whole events (else bytes pass as they arrive). */
    default boolean needsEvents() {
        return true;
    }
}
