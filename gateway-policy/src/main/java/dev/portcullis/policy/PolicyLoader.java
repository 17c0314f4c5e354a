package dev.portcullis.policy;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Loads a policy file (YAML) into a {@link LoadedPolicy}. Unknown keys, wrong types and bad values
 * are errors; all of them are reported at once in an {@link InvalidPolicyException}, each as
 * {@code file:line: field: problem (expected: …)}, e.g.
 * {@code todo.yaml:7: tools.delete_todo.roles: "admin" (expected: a list of role names)}.
 * What loads but looks like a mistake becomes a {@link PolicyWarning}. The format is documented in
 * {@code gateway-policy/README.md}.
 */
public final class PolicyLoader {
    /** Strict about duplicate keys as a backstop: {@link LineIndex} reports them first, with both lines. */
    private static final ObjectMapper YAML = JsonMapper.builder(strictYaml())
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private PolicyLoader() {}

    private static YAMLFactory strictYaml() {
        YAMLFactory factory = new YAMLFactory();
        factory.enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        return factory;
    }

    /**
     * Reads and loads {@code file}; messages name it as given.
     *
     * @throws InvalidPolicyException when the file cannot be read or is not a valid policy
     */
    public static LoadedPolicy load(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new InvalidPolicyException(file + ": cannot be read (" + e.getClass().getSimpleName() + ")");
        }
        return parse(text, file.toString());
    }

    /**
     * Loads a policy from its text.
     *
     * @param sourceName the file name to use in messages
     * @throws InvalidPolicyException when the text is not a valid policy
     */
    public static LoadedPolicy parse(String yaml, String sourceName) {
        // Keys written twice and aliases first, all of them, from the line index: the tree would
        // keep only the last value of a key (often the more permissive rule) and an alias's name.
        LineIndex lines = LineIndex.of(yaml);
        java.util.List<String> structural = new java.util.ArrayList<>();
        for (LineIndex.Duplicate duplicate : lines.duplicates()) {
            structural.add(sourceName + ":" + duplicate.line() + ": " + Text.path(duplicate.path())
                    + ": written twice in one mapping (first at line " + duplicate.firstLine()
                    + "; expected: each key once)");
        }
        for (LineIndex.Alias alias : lines.aliases()) {
            structural.add(sourceName + ":" + alias.line() + ": " + Text.path(alias.path()) + ": YAML alias *"
                    + alias.name() + " (expected: the value written out; anchors and aliases are not supported)");
        }
        JsonNode root;
        try {
            root = YAML.readTree(yaml);
        } catch (JsonProcessingException e) {
            if (!structural.isEmpty() && String.valueOf(e.getOriginalMessage()).startsWith("Duplicate field")) {
                throw new InvalidPolicyException(structural);
            }
            throw new InvalidPolicyException(notYaml(e, sourceName));
        }
        if (!structural.isEmpty()) {
            throw new InvalidPolicyException(structural);
        }
        PolicyReader reader = new PolicyReader(sourceName, lines);
        PolicyFile file = reader.read(root);
        if (!reader.problems().isEmpty()) {
            throw new InvalidPolicyException(reader.problems());
        }
        return new LoadedPolicy(sourceName, new CompiledPolicy(file, version(yaml)), PolicyWarnings.find(file, lines));
    }

    /** The YAML parser's own line and problem, without its multi-line excerpt. */
    /** Issue 17: SHA-256 of the file's text, the first 16 bytes in hex: what approvals are bound to. */
    static String version(String yaml) {
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(yaml.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(digest, 0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String notYaml(JsonProcessingException e, String sourceName) {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof MarkedYAMLException marked && marked.getProblemMark() != null) {
                String hint = String.valueOf(marked.getContext()).contains("alias")
                        ? "; a name starting with * must be quoted, e.g. \"*\" or \"*_csv\"" : "";
                return sourceName + ":" + (marked.getProblemMark().getLine() + 1) + ": not valid YAML ("
                        + marked.getProblem() + hint + ")";
            }
        }
        JsonLocation at = e.getLocation();
        String problem = e.getOriginalMessage().startsWith("Trailing token")
                ? "more than one document (expected: one policy per file)" : e.getOriginalMessage();
        return sourceName + ":" + (at == null ? "?" : at.getLineNr()) + ": not valid YAML (" + problem + ")";
    }
}
