package dev.portcullis.pin;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.portcullis.policy.LineIndex;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Reads and writes a pins file (issue 17, docs/pinning.md): YAML meant for review in git, written by
 * {@code portcullis pin}:
 *
 * <pre>
 * format: 1
 * route: todo
 * upstream: https://todo.internal/mcp
 * tools:
 *   echo:
 *     sha256: 5d41…
 *     definition: |
 *       {
 *         "description" : "Returns the text argument",
 *         …
 *       }
 * </pre>
 *
 * Items are sorted by name and each definition is its canonical JSON, indented ({@link Definitions#text}), so a
 * change to one definition is a diff of the lines that changed. Reading checks every entry: its {@code sha256} must
 * be the hash of its {@code definition} (a definition edited by hand without a new hash is refused, so what the
 * reviewer read is what the gateway enforces), and the definition must name the item its key names. Every problem
 * is reported at once, each naming file, line and field.
 */
public final class PinFile {
    /** The only format so far. */
    public static final int FORMAT = 1;
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Set<String> TOP_LEVEL = Set.of("format", "route", "upstream", "tools", "prompts",
            "resource-templates");
    private static final ObjectMapper READER = JsonMapper.builder(strictYaml()).build();
    private static final ObjectMapper WRITER = JsonMapper.builder(YAMLFactory.builder()
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.LITERAL_BLOCK_STYLE)
            // A hash or name that reads as a number (all digits) stays a string when the file is read back.
            .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .build()).build();

    private PinFile() {}

    private static YAMLFactory strictYaml() {
        YAMLFactory factory = new YAMLFactory();
        factory.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        return factory;
    }

    /** Reads {@code file}; messages name it as given. @throws InvalidPinsException naming every problem */
    public static PinSet read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new InvalidPinsException(List.of(file + ": cannot be read (" + e.getClass().getSimpleName()
                    + "; expected: a pins file written by portcullis pin)"));
        }
        return parse(text, file.toString());
    }

    /** @param source the file name for messages */
    public static PinSet parse(String yaml, String source) {
        LineIndex lines = LineIndex.of(yaml);
        List<String> problems = new ArrayList<>();
        for (LineIndex.Duplicate duplicate : lines.duplicates()) {
            problems.add(source + ":" + duplicate.line() + ": " + path(duplicate.path())
                    + ": written twice in one mapping (first at line " + duplicate.firstLine() + "; expected: each key once)");
        }
        for (LineIndex.Alias alias : lines.aliases()) {
            problems.add(source + ":" + alias.line() + ": " + path(alias.path()) + ": YAML alias *" + alias.name()
                    + " (expected: the value written out)");
        }
        if (!problems.isEmpty()) {
            throw new InvalidPinsException(problems);
        }
        JsonNode root;
        try {
            root = READER.readTree(yaml);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new InvalidPinsException(List.of(source + ":" + (at == null ? 0 : at.getLineNr()) + ": not valid YAML ("
                    + e.getOriginalMessage() + ")"));
        }
        if (root == null || !root.isObject()) {
            throw new InvalidPinsException(List.of(source + ":1: not a pins file (expected: a mapping with format, route, "
                    + "upstream and tools, prompts or resource-templates)"));
        }
        Problems report = new Problems(source, lines, problems);
        for (Map.Entry<String, JsonNode> entry : root.properties()) {
            if (!TOP_LEVEL.contains(entry.getKey())) {
                report.add(List.of(entry.getKey()), "unknown key (expected one of: format, prompts, resource-templates, "
                        + "route, tools, upstream)");
            }
        }
        JsonNode format = root.get("format");
        if (format == null || !format.isInt() || format.intValue() != FORMAT) {
            report.add(List.of("format"), (format == null ? "is missing" : shown(format)) + " (expected: " + FORMAT + ")");
        }
        String route = text(root, "route", report);
        String upstream = text(root, "upstream", report);
        Map<PinKind, Map<String, Pin>> pins = new EnumMap<>(PinKind.class);
        for (PinKind kind : PinKind.values()) {
            JsonNode section = root.get(kind.text());
            if (section == null) {
                continue;
            }
            if (section.isNull()) {
                pins.put(kind, Map.of()); // "tools:" with nothing: no tool is pinned
                continue;
            }
            if (!section.isObject()) {
                report.add(List.of(kind.text()), "wrong type (expected: a mapping of " + kind.singular() + " names)");
                continue;
            }
            Map<String, Pin> byName = new LinkedHashMap<>();
            for (Map.Entry<String, JsonNode> item : section.properties()) {
                Pin pin = pin(kind, item.getKey(), item.getValue(), report);
                if (pin != null) {
                    byName.put(item.getKey(), pin);
                }
            }
            pins.put(kind, byName);
        }
        if (!problems.isEmpty()) {
            throw new InvalidPinsException(problems);
        }
        return new PinSet(route, upstream, pins);
    }

    private static Pin pin(PinKind kind, String name, JsonNode entry, Problems report) {
        List<Object> at = List.of(kind.text(), name);
        if (entry == null || !entry.isObject()) {
            report.add(at, "wrong type (expected: a mapping with sha256 and definition)");
            return null;
        }
        boolean bad = false;
        for (Map.Entry<String, JsonNode> field : entry.properties()) {
            if (!field.getKey().equals("sha256") && !field.getKey().equals("definition")) {
                report.add(List.of(kind.text(), name, field.getKey()), "unknown key (expected one of: definition, sha256)");
                bad = true;
            }
        }
        JsonNode sha256 = entry.get("sha256");
        if (sha256 == null || !sha256.isTextual() || !SHA256.matcher(sha256.textValue()).matches()) {
            report.add(List.of(kind.text(), name, "sha256"), (sha256 == null ? "is missing" : shown(sha256))
                    + " (expected: 64 lower-case hex digits)");
            bad = true;
        }
        JsonNode text = entry.get("definition");
        ObjectNode definition = null;
        if (text == null || !text.isTextual()) {
            report.add(List.of(kind.text(), name, "definition"), (text == null ? "is missing" : "wrong type")
                    + " (expected: the definition's JSON as text, as portcullis pin writes it)");
            return null;
        }
        try {
            definition = Definitions.parse(text.textValue());
        } catch (IOException e) {
            report.add(List.of(kind.text(), name, "definition"), "not a JSON object (expected: the definition's JSON, "
                    + "as portcullis pin writes it)");
            return null;
        }
        JsonNode named = definition.get(kind.nameField());
        if (named == null || !named.isTextual() || !named.textValue().equals(name)) {
            report.add(List.of(kind.text(), name, "definition"), "its " + kind.nameField() + " is "
                    + (named == null ? "missing" : shown(named)) + " (expected: \"" + name + "\", the key it is pinned under)");
            bad = true;
        }
        String actual = Definitions.sha256(definition);
        if (!bad && !actual.equals(sha256.textValue())) {
            report.add(List.of(kind.text(), name, "sha256"), shown(sha256) + " does not match the definition (expected: "
                    + actual + ", the SHA-256 of the definition's canonical JSON; a definition is changed by running "
                    + "portcullis pin again, never by hand)");
            bad = true;
        }
        return bad ? null : new Pin(name, actual, definition);
    }

    private static String text(JsonNode root, String field, Problems report) {
        JsonNode value = root.get(field);
        if (value == null) {
            return null;
        }
        if (!value.isTextual()) {
            report.add(List.of(field), "wrong type (expected: a string)");
            return null;
        }
        return value.textValue();
    }

    /** The YAML text of {@code pins}: items sorted by name, each with its hash and its definition text. */
    public static String write(PinSet pins) {
        ObjectNode root = WRITER.createObjectNode();
        root.put("format", FORMAT);
        if (pins.route() != null) {
            root.put("route", pins.route());
        }
        if (pins.upstream() != null) {
            root.put("upstream", pins.upstream());
        }
        for (PinKind kind : PinKind.values()) {
            if (!pins.has(kind)) {
                continue;
            }
            ObjectNode section = root.putObject(kind.text());
            for (Pin pin : new TreeMap<>(pins.of(kind)).values()) {
                ObjectNode entry = section.putObject(pin.name());
                entry.put("sha256", pin.sha256());
                entry.put("definition", Definitions.text(pin.definition()));
            }
        }
        try {
            return WRITER.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String shown(JsonNode value) {
        return value.isTextual() ? '"' + value.textValue() + '"' : value.toString();
    }

    /** {@code tools.echo.sha256}; a segment other than a plain word is quoted. */
    static String path(List<?> segments) {
        StringBuilder out = new StringBuilder();
        for (Object segment : segments) {
            if (segment instanceof Integer index) {
                out.append('[').append(index).append(']');
                continue;
            }
            if (out.length() > 0) {
                out.append('.');
            }
            String key = segment.toString();
            out.append(key.matches("[A-Za-z0-9_-]+") ? key : Definitions.JSON.getNodeFactory().textNode(key).toString());
        }
        return out.toString();
    }

    private record Problems(String source, LineIndex lines, List<String> list) {
        void add(List<Object> at, String message) {
            list.add(source + ":" + lines.lineOf(at) + ": " + path(at) + ": " + message);
        }
    }
}
