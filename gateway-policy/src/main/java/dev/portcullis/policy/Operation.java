package dev.portcullis.policy;

import java.util.Objects;
import java.util.Optional;

/**
 * One JSON-RPC message as policy sees it: the method and, where the method has one, the name
 * of its target (the tool for {@code tools/call}, the URI for {@code resources/read}, the prompt
 * for {@code prompts/get}). Decided from the parsed body only (POLICY-01).
 *
 * @param method the JSON-RPC method, exactly as sent (no normalisation: POLICY-03)
 * @param target the tool name, resource URI or prompt name, if the method has one
 */
public record Operation(String method, Optional<String> target) {
    public Operation {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(target, "target");
    }
}
