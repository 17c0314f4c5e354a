package dev.portcullis.policy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/** Test shorthand: policies from YAML text, callers from space-separated lists, JSON from text. */
final class Policies {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Policies() {}

    static CompiledPolicy policy(String yaml) {
        return PolicyLoader.parse(yaml, "test.yaml").policy();
    }

    static LoadedPolicy loaded(String yaml) {
        return PolicyLoader.parse(yaml, "test.yaml");
    }

    /** A caller: agent, then space-separated scopes and roles. */
    static Subject caller(String agent, String scopes, String roles) {
        return new Subject("https://idp.example.com", "alice", agent, words(scopes), words(roles));
    }

    static Subject caller(String scopes) {
        return caller("agent-1", scopes, "");
    }

    private static Set<String> words(String text) {
        return Arrays.stream(text.split(" ")).filter(s -> !s.isEmpty()).collect(Collectors.toSet());
    }

    static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(e);
        }
    }

    static Operation tool(String name) {
        return Operation.toolCall(name, null);
    }

    static Operation tool(String name, String argumentsJson) {
        return Operation.toolCall(name, json(argumentsJson));
    }
}
