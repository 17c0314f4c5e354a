package dev.portcullis.forward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.portcullis.authz.PartialBatch;
import dev.portcullis.failure.FailureResponses;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.inspect.McpMessage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The answer to a 2025-03-26 batch forwarded in part (POLICY-07, {@code batches: partial}): the
 * upstream's responses to the forwarded requests and the gateway's errors for the refused ones,
 * merged in the order of the client's batch (JSONRPC-05). On an SSE answer each error is one more
 * {@code event: message} on the stream (E9).
 */
final class BatchAnswers {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final FailureResponses FAILURES = new FailureResponses(JSON);

    /** Jackson builds deserializers on first use under a lock: done at start, not on an event loop. */
    static void warm() {
        try {
            JSON.readTree("[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":[1.5,true,null]}}]");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private final List<McpMessage> messages;
    private final PartialBatch partial;

    BatchAnswers(List<McpMessage> messages, PartialBatch partial) {
        this.messages = messages;
        this.partial = partial;
    }

    /** Whether the gateway has anything to add (some refused element was a request). */
    boolean answersSomething() {
        return !partial.answered().isEmpty();
    }

    /** The gateway's errors alone, as a JSON array (the upstream answered 202: nothing else to merge). */
    byte[] errorsOnly() {
        return merge(JSON.createArrayNode());
    }

    /** Each error as one SSE event. */
    List<byte[]> errorEvents() {
        List<byte[]> events = new ArrayList<>();
        for (GatewayFailure refusal : partial.answered()) {
            events.add(SseEvents.event(error(refusal).toString()));
        }
        return events;
    }

    /**
     * The upstream's JSON answer (an array, or a single message) merged with the gateway's errors: every
     * request of the client's batch in its place, then any upstream response no request id matched.
     * An answer that is not JSON is relayed as it is.
     */
    byte[] mergeJson(byte[] upstream) {
        JsonNode answer;
        try {
            answer = JSON.readTree(upstream);
        } catch (IOException e) {
            return upstream;
        }
        ArrayNode responses = JSON.createArrayNode();
        if (answer != null && answer.isArray()) {
            responses.addAll((ArrayNode) answer);
        } else if (answer != null && answer.isObject()) {
            responses.add(answer);
        } else {
            return upstream;
        }
        return merge(responses);
    }

    private byte[] merge(ArrayNode upstream) {
        List<JsonNode> pool = new ArrayList<>();
        upstream.forEach(pool::add);
        ArrayNode out = JSON.createArrayNode();
        for (int i = 0; i < messages.size(); i++) {
            McpMessage message = messages.get(i);
            if (message.kind() != McpMessage.Kind.REQUEST) {
                continue;
            }
            GatewayFailure refusal = partial.refused().get(i);
            if (refusal != null) {
                out.add(error(refusal));
                continue;
            }
            for (int j = 0; j < pool.size(); j++) {
                if (ListFilter.sameId(message.id(), pool.get(j).get("id"))) {
                    out.add(pool.remove(j));
                    break;
                }
            }
        }
        pool.forEach(out::add);
        try {
            return JSON.writeValueAsBytes(out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode error(GatewayFailure refusal) {
        byte[] error = FAILURES.jsonRpcError(refusal);
        if (error == null) { // every request refusal has a JSON-RPC shape; never answer with nothing
            error = FAILURES.jsonRpcError(GatewayFailure.of(dev.portcullis.failure.Reason.POLICY_DENIED,
                    "Denied by gateway policy").withJsonRpcId(refusal.jsonRpcId()));
        }
        try {
            return JSON.readTree(error);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
