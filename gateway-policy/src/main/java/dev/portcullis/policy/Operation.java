package dev.portcullis.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.util.Objects;
import java.util.Optional;

/**
 * One JSON-RPC message as policy sees it: the method, the name of its target where the method has
 * one (the tool for {@code tools/call}, the URI for {@code resources/read}/{@code subscribe}/{@code
 * unsubscribe}, the prompt for {@code prompts/get}) and the arguments. Decided from the parsed body
 * only (POLICY-01).
 *
 * @param method    the JSON-RPC method, exactly as sent (no normalisation: POLICY-03); "" for a response
 * @param target    the tool name, resource URI or prompt name, if the method has one
 * @param arguments {@code params.arguments} for {@code tools/call} and {@code prompts/get}; a
 *                  {@link MissingNode} otherwise (null is read as missing). Never mutated by policy
 */
public record Operation(String method, Optional<String> target, JsonNode arguments) {
    public Operation {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(target, "target");
        arguments = arguments == null ? MissingNode.getInstance() : arguments;
    }

    /** An operation without arguments. */
    public Operation(String method, Optional<String> target) {
        this(method, target, MissingNode.getInstance());
    }

    public static Operation toolCall(String tool, JsonNode arguments) {
        return new Operation("tools/call", Optional.of(tool), arguments);
    }

    public static Operation resourceRead(String uri) {
        return new Operation("resources/read", Optional.of(uri));
    }

    public static Operation promptGet(String prompt, JsonNode arguments) {
        return new Operation("prompts/get", Optional.of(prompt), arguments);
    }

    /** A method without a target, e.g. {@code initialize}, {@code logging/setLevel}. */
    public static Operation method(String method) {
        return new Operation(method, Optional.empty());
    }
}
