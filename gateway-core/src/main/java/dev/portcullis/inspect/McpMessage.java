package dev.portcullis.inspect;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.policy.Operation;
import java.util.Optional;

/**
 * One JSON-RPC message as the gateway sees it (JSONRPC-01).
 *
 * @param kind   request (method + id), notification (method, no id) or response (id + result/error)
 * @param id     the id exactly as sent (type and digits preserved: JSONRPC-02), or null
 * @param method the method, or null for responses
 * @param target the tool name ({@code tools/call}), prompt name ({@code prompts/get}) or URI
 *               ({@code resources/read}), when the method has one
 * @param params the params object, or null
 */
public record McpMessage(Kind kind, JsonNode id, String method, Optional<String> target, JsonNode params) {
    public enum Kind { REQUEST, NOTIFICATION, RESPONSE }

    /**
     * What policy decides on; responses (client answers to server requests) have no method.
     * {@code params.arguments} rides along for {@code tools/call} and {@code prompts/get} only.
     */
    public Operation operation() {
        boolean hasArguments = ("tools/call".equals(method) || "prompts/get".equals(method))
                && params != null && params.isObject();
        return new Operation(method == null ? "" : method, target, hasArguments ? params.get("arguments") : null);
    }
}
