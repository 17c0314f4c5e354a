package dev.portcullis.app.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.portcullis.config.ConfigException;
import dev.portcullis.config.DataSize;
import dev.portcullis.config.DurationText;
import dev.portcullis.config.GatewayConfig;
import dev.portcullis.config.RouteConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Reads {@code gateway.yaml} into the immutable, validated {@link GatewayConfig}.
 *
 * <p>Every error names the file, the line and the field and says what was expected:
 * {@code gateway.yaml:14: routes[0].path: "mcp" (expected: starts with "/", ...)}. Unknown keys
 * and keys written twice in one mapping are errors. Every problem found is reported at once
 * (one line each): duplicate keys, environment references, and each section, issuer and route
 * on its own; the cross-section checks run once the parts are valid.
 *
 * <p><b>Environment references.</b> {@code ${NAME}} inside a scalar value is replaced by the
 * environment variable NAME <em>after</em> the YAML is parsed, so a value can never add keys,
 * end a line or start a comment, whatever it contains. Keys are never substituted. {@code $${}
 * is a literal {@code ${}. A value that is exactly one reference takes the type its text has as a
 * plain YAML scalar when that is a whole number or {@code true}/{@code false} (so
 * {@code port: ${PORT}} works); otherwise it is a string. An unset variable, or a {@code ${} that
 * is not a reference ({@code ${1X}}, {@code ${A:-b}}, an unclosed one), is an error naming the
 * file, line, field and variable. Messages never show a value that came from the environment:
 * they show the {@code ${NAME}} as written.
 */
public final class ConfigLoader {
    /** {@code $${} (a literal), or {@code ${NAME}}, or a {@code ${} that starts neither. */
    private static final Pattern REFERENCE = Pattern.compile("\\$\\$\\{|\\$\\{([A-Za-z_][A-Za-z0-9_]*)}|\\$\\{");
    private static final Pattern WHOLE_NUMBER = Pattern.compile("-?(0|[1-9][0-9]{0,17})");

    private ConfigLoader() {}

    /** A configuration file that cannot be used; the message is ready to show to the operator (one line per problem). */
    public static final class InvalidConfigException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final List<String> problems;
        private final List<Path> policies;

        public InvalidConfigException(String message) {
            this(List.of(message));
        }

        public InvalidConfigException(List<String> problems) {
            this(problems, List.of());
        }

        InvalidConfigException(List<String> problems, List<Path> policies) {
            super(String.join("\n", problems), null, false, false);
            this.problems = List.copyOf(problems);
            this.policies = List.copyOf(policies);
        }

        /**
         * The policy files named by the routes that were valid on their own, so {@code check} can report
         * their problems in the same run as the config's.
         */
        public List<Path> policies() {
            return policies;
        }

        /** Each problem, one line each, in file order. */
        public List<String> problems() {
            return problems;
        }
    }

    public static GatewayConfig load(Path file) {
        return load(file, System::getenv);
    }

    public static GatewayConfig load(Path file, Function<String, String> env) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new InvalidConfigException(file + ": cannot be read (" + e.getClass().getSimpleName() + ")");
        }
        Path base = file.toAbsolutePath().getParent();
        return parse(text, file.toString(), base, env);
    }

    public static GatewayConfig parse(String yaml, String sourceName) {
        return parse(yaml, sourceName, null, System::getenv);
    }

    /**
     * @param baseDir relative file paths in the config (TLS files) resolve against it; null keeps them as written
     * @param env     environment lookup for {@code ${NAME}}
     */
    public static GatewayConfig parse(String yaml, String sourceName, Path baseDir, Function<String, String> env) {
        LineIndex index = LineIndex.of(yaml);
        List<Problem> problems = new ArrayList<>();
        for (LineIndex.Duplicate duplicate : index.duplicates()) {
            problems.add(new Problem(duplicate.line(), sourceName + ":" + duplicate.line() + ": " + duplicate.path()
                    + ": written twice in one mapping (first at line " + duplicate.firstLine()
                    + "; expected: each key once)"));
        }
        for (LineIndex.Alias alias : index.aliases()) {
            problems.add(new Problem(alias.line(), sourceName + ":" + alias.line() + ": " + alias.path() + ": YAML alias *"
                    + alias.name() + " (expected: the value written out; anchors and aliases are not supported)"));
        }
        if (!problems.isEmpty()) {
            throw invalid(problems);
        }
        ObjectMapper mapper = mapper(baseDir);
        JsonNode root;
        try {
            root = mapper.readTree(yaml);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new InvalidConfigException(sourceName + ":" + (at == null ? "?" : at.getLineNr())
                    + ": not valid YAML (" + e.getOriginalMessage() + ")");
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            throw new InvalidConfigException(sourceName + ": is empty (expected: listen, admin, issuers, routes)");
        }
        Substitutions substitutions = new Substitutions(sourceName, index, env);
        root = substitutions.walk(root, "");
        problems.addAll(substitutions.problems);
        if (!problems.isEmpty()) {
            throw invalid(problems);
        }
        Reader reader = new Reader(mapper, sourceName, index, substitutions);
        // Each part on its own first, so that every broken section, issuer and route is reported in one run.
        if (root.isObject()) {
            List<Object> parts = reader.parts(root, problems);
            if (!problems.isEmpty()) {
                List<Path> policies = parts.stream().filter(RouteConfig.class::isInstance).map(RouteConfig.class::cast)
                        .map(RouteConfig::policy).filter(java.util.Objects::nonNull).toList();
                throw new InvalidConfigException(invalid(problems).problems(), policies);
            }
        }
        GatewayConfig config = reader.read(root, GatewayConfig.class, "", problems);
        if (!problems.isEmpty()) {
            throw invalid(problems);
        }
        return config;
    }

    private record Problem(int line, String text) {}

    private static InvalidConfigException invalid(List<Problem> problems) {
        return new InvalidConfigException(problems.stream().sorted(Comparator.comparingInt(Problem::line))
                .map(Problem::text).distinct().toList());
    }

    /** Deserialises the tree (or one part of it) and turns Jackson's failures into operator messages. */
    private static final class Reader {
        private final ObjectMapper mapper;
        private final String sourceName;
        private final LineIndex index;
        private final Substitutions substitutions;

        Reader(ObjectMapper mapper, String sourceName, LineIndex index, Substitutions substitutions) {
            this.mapper = mapper;
            this.sourceName = sourceName;
            this.index = index;
            this.substitutions = substitutions;
        }

        /** Each top-level section, and each element of the list sections, on its own. */
        List<Object> parts(JsonNode root, List<Problem> problems) {
            List<Object> read = new ArrayList<>();
            Map<String, RecordComponent> sections = new LinkedHashMap<>();
            for (RecordComponent component : GatewayConfig.class.getRecordComponents()) {
                sections.put(KEBAB.translate(component.getName()), component);
            }
            for (Map.Entry<String, JsonNode> entry : root.properties()) {
                RecordComponent component = sections.get(entry.getKey());
                JsonNode value = entry.getValue();
                if (component == null || value == null || value.isNull()) {
                    continue; // unknown keys and missing sections: reported by the whole read
                }
                if (List.class.isAssignableFrom(component.getType())
                        && component.getGenericType() instanceof ParameterizedType list && value.isArray()) {
                    Class<?> element = (Class<?>) list.getActualTypeArguments()[0];
                    for (int i = 0; i < value.size(); i++) {
                        read.add(read(value.get(i), element, entry.getKey() + "[" + i + "]", problems));
                    }
                } else if (!List.class.isAssignableFrom(component.getType())) {
                    read.add(read(value, component.getType(), entry.getKey(), problems));
                }
            }
            read.removeIf(java.util.Objects::isNull);
            return read;
        }

        <T> T read(JsonNode node, Class<T> type, String prefix, List<Problem> problems) {
            try {
                return mapper.readValue(mapper.treeAsTokens(node), type);
            } catch (JsonMappingException e) {
                problems.add(describe(e, prefix));
            } catch (IOException e) {
                problems.add(new Problem(0, sourceName + ": " + prefix + ": " + e.getClass().getSimpleName()));
            }
            return null;
        }

        private Problem describe(JsonMappingException e, String prefix) {
            String path = join(prefix, pathOf(e));
            ConfigException invalid = findCause(e, ConfigException.class);
            if (invalid != null) {
                String field = invalid.field().isEmpty() ? path : join(path, invalid.field());
                return at(field, substitutions.hidden(field, invalid.getMessage()));
            }
            if (e instanceof UnrecognizedPropertyException unknown) {
                return at(path, "unknown key (expected one of: " + unknown.getKnownPropertyIds().stream()
                        .map(String::valueOf).sorted().collect(Collectors.joining(", ")) + ")");
            }
            IllegalArgumentException bad = findCause(e, IllegalArgumentException.class);
            if (bad != null) {
                return at(path, substitutions.hidden(path, bad.getMessage()));
            }
            if (e instanceof InvalidFormatException format) {
                return at(path, substitutions.hidden(path, shown(format.getValue()) + " (expected: "
                        + expectedName(format.getTargetType()) + ")"));
            }
            if (e instanceof MismatchedInputException mismatch && mismatch.getTargetType() != null) {
                return at(path, "wrong type (expected: " + expectedName(mismatch.getTargetType()) + ")");
            }
            return at(path, substitutions.hidden(path, e.getOriginalMessage()));
        }

        private Problem at(String field, String message) {
            Integer line = index.lineOf(field);
            int n = line == null ? 0 : line;
            return new Problem(n, sourceName + ":" + n + ": " + (field.isEmpty() ? "" : field + ": ") + message);
        }
    }

    private static final PropertyNamingStrategies.KebabCaseStrategy KEBAB = new PropertyNamingStrategies.KebabCaseStrategy();

    private static String join(String prefix, String path) {
        if (prefix.isEmpty()) return path;
        if (path.isEmpty()) return prefix;
        return path.startsWith("[") ? prefix + path : prefix + "." + path;
    }

    /**
     * Replaces {@code ${NAME}} in the parsed scalar strings (never in keys, never in the raw text) and
     * remembers, per field path, what was written, so messages can show that instead of the value.
     */
    private static final class Substitutions {
        private record Written(String template, Object value) {}

        private final String sourceName;
        private final LineIndex index;
        private final Function<String, String> env;
        private final Map<String, Written> written = new LinkedHashMap<>();
        final List<Problem> problems = new ArrayList<>();

        Substitutions(String sourceName, LineIndex index, Function<String, String> env) {
            this.sourceName = sourceName;
            this.index = index;
            this.env = env;
        }

        JsonNode walk(JsonNode node, String path) {
            if (node.isObject()) {
                ObjectNode object = (ObjectNode) node;
                for (Map.Entry<String, JsonNode> entry : List.copyOf(object.properties())) {
                    object.set(entry.getKey(), walk(entry.getValue(), join(path, entry.getKey())));
                }
                return object;
            }
            if (node.isArray()) {
                ArrayNode array = (ArrayNode) node;
                for (int i = 0; i < array.size(); i++) {
                    array.set(i, walk(array.get(i), path + "[" + i + "]"));
                }
                return array;
            }
            if (node.isTextual() && node.textValue().indexOf('$') >= 0) {
                return substitute(node.textValue(), path);
            }
            return node;
        }

        private JsonNode substitute(String text, String path) {
            Matcher m = REFERENCE.matcher(text);
            StringBuilder out = new StringBuilder();
            boolean referenced = false;
            int references = 0;
            int last = 0;
            while (m.find()) {
                out.append(text, last, m.start());
                last = m.end();
                if (m.group().equals("$${")) {
                    out.append("${");
                    continue;
                }
                if (m.group(1) == null) {
                    problem(path, "\"" + text + "\": \"${\" that is not a reference (expected: ${NAME} with letters, digits"
                            + " and _; write $${ for a literal ${)");
                    return TextNode.valueOf(text);
                }
                String value = env.apply(m.group(1));
                if (value == null) {
                    problem(path, "${" + m.group(1) + "} is not set (expected: an environment variable;"
                            + " write $${ for a literal ${)");
                    return TextNode.valueOf(text);
                }
                referenced = true;
                references++;
                out.append(value);
            }
            out.append(text, last, text.length());
            String result = out.toString();
            if (!referenced) {
                return TextNode.valueOf(result);
            }
            JsonNode typed = TextNode.valueOf(result);
            boolean whole = references == 1 && REFERENCE.matcher(text).matches();
            if (whole && WHOLE_NUMBER.matcher(result).matches()) {
                typed = LongNode.valueOf(Long.parseLong(result));
            } else if (whole && (result.equals("true") || result.equals("false"))) {
                typed = BooleanNode.valueOf(Boolean.parseBoolean(result));
            }
            written.put(path, new Written(text, typed.isTextual() ? result : typed.isBoolean()
                    ? (Object) typed.booleanValue() : (Object) typed.longValue()));
            return typed;
        }

        private void problem(String path, String message) {
            Integer line = index.lineOf(path);
            int n = line == null ? 0 : line;
            problems.add(new Problem(n, sourceName + ":" + n + ": " + path + ": " + message));
        }

        /**
         * The message for a field, with any value that came from the environment shown as what was
         * written ({@code "${NAME}"}). Only the leading value of a message is replaced (that is where
         * the config records and parsers put it); a message that shows it anywhere else is withheld
         * rather than searched for the value, which would garble it and reveal a short secret.
         */
        String hidden(String field, String message) {
            List<Written> under = new ArrayList<>();
            for (Map.Entry<String, Written> entry : written.entrySet()) {
                String key = entry.getKey();
                if (key.equals(field) || key.startsWith(field + ".") || key.startsWith(field + "[")) {
                    under.add(entry.getValue());
                }
            }
            if (under.isEmpty() || message == null) {
                return message;
            }
            if (under.stream().noneMatch(w -> !String.valueOf(w.value()).isEmpty()
                    && message.contains(String.valueOf(w.value())))) {
                return message; // says nothing of the value ("is set", "is required")
            }
            if (under.size() == 1) {
                Written w = under.get(0);
                String shown = w.value() instanceof String s ? '"' + s + '"' : String.valueOf(w.value());
                if (message.startsWith(shown + " ") || message.equals(shown)) {
                    String rest = message.substring(shown.length());
                    if (!rest.contains(String.valueOf(w.value()))) {
                        return '"' + w.template() + '"' + rest;
                    }
                }
            }
            return "the value from " + under.stream().map(w -> '"' + w.template() + '"').collect(Collectors.joining(", "))
                    + " is not valid here (a value from the environment is not shown)";
        }
    }

    private static String shown(Object value) {
        return value instanceof String s ? '"' + s + '"' : String.valueOf(value);
    }

    private static String expectedName(Class<?> type) {
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) return "a whole number";
        if (type == Boolean.class || type == boolean.class) return "true or false";
        if (type == String.class) return "a string";
        if (java.util.List.class.isAssignableFrom(type)) return "a list";
        if (type.isRecord()) return "a mapping of keys";
        return type.getSimpleName();
    }

    /** {@code routes[0].upstream-auth.type} from Jackson's reference chain. */
    static String pathOf(JsonMappingException e) {
        StringBuilder out = new StringBuilder();
        for (JsonMappingException.Reference ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                if (out.length() > 0) out.append('.');
                out.append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                out.append('[').append(ref.getIndex()).append(']');
            }
        }
        return out.toString();
    }

    private static <T extends Throwable> T findCause(Throwable e, Class<T> type) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
            if (c instanceof ValueInstantiationException && c.getCause() == null) {
                break;
            }
        }
        return null;
    }

    static ObjectMapper mapper(Path baseDir) {
        SimpleModule units = new SimpleModule("portcullis-units");
        units.addDeserializer(Duration.class, fromText(DurationText::parse));
        units.addDeserializer(DataSize.class, fromText(DataSize::parse));
        if (baseDir != null) {
            units.addDeserializer(Path.class, fromText(text -> baseDir.resolve(text).normalize()));
        } else {
            units.addDeserializer(Path.class, fromText(Path::of));
        }
        // Keys written twice are reported by the line index first; the parser's check is the backstop.
        YAMLFactory yaml = new YAMLFactory();
        yaml.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
        return JsonMapper.builder(yaml)
                .propertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .addModule(units)
                // A null list element (`scopes: [~]`, `- ` with nothing) is an error, not a NullPointerException.
                .defaultSetterInfo(com.fasterxml.jackson.annotation.JsonSetter.Value.forContentNulls(
                        com.fasterxml.jackson.annotation.Nulls.FAIL))
                .build();
    }

    private static <T> JsonDeserializer<T> fromText(Function<String, T> parse) {
        return new JsonDeserializer<>() {
            @Override
            public T deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
                if (p.currentToken() != JsonToken.VALUE_STRING && p.currentToken() != JsonToken.VALUE_NUMBER_INT) {
                    throw MismatchedInputException.from(p, String.class, "expected a scalar");
                }
                try {
                    return parse.apply(p.getText());
                } catch (IllegalArgumentException e) {
                    throw JsonMappingException.from(p, e.getMessage(), e);
                }
            }
        };
    }

    /**
     * Maps a config path ({@code routes[1].path}) to the line where its value stands, and records the
     * keys written twice in one mapping and the YAML aliases (which the tree would see as plain text).
     */
    static final class LineIndex {
        record Duplicate(String path, int firstLine, int line) {}

        record Alias(String path, int line, String name) {}

        private final Map<String, Integer> lines;
        private final List<Duplicate> duplicates;
        private final List<Alias> aliases;

        private LineIndex(Map<String, Integer> lines, List<Duplicate> duplicates, List<Alias> aliases) {
            this.lines = lines;
            this.duplicates = duplicates;
            this.aliases = aliases;
        }

        /** One open mapping or list: its path, the keys seen (mapping) or the next index (list). */
        private static final class Frame {
            final String path;
            final Map<String, Integer> keys = new HashMap<>();
            int next;

            Frame(String path, boolean list) {
                this.path = path;
                this.next = list ? 0 : -1;
            }

            boolean isList() {
                return next >= 0;
            }
        }

        static LineIndex of(String yaml) {
            Map<String, Integer> lines = new HashMap<>();
            List<Duplicate> duplicates = new ArrayList<>();
            List<Alias> aliases = new ArrayList<>();
            try (JsonParser p = new YAMLFactory().createParser(yaml)) {
                ArrayDeque<Frame> open = new ArrayDeque<>();
                String field = null;
                JsonToken t;
                while ((t = p.nextToken()) != null) {
                    int line = p.currentTokenLocation().getLineNr();
                    if (t == JsonToken.FIELD_NAME) {
                        field = p.currentName();
                        Frame frame = open.peek();
                        String path = join(frame.path, field);
                        Integer first = frame.keys.putIfAbsent(field, line);
                        if (first != null) {
                            duplicates.add(new Duplicate(path, first, line));
                        }
                        lines.putIfAbsent(path, line);
                        continue;
                    }
                    if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                        open.pop();
                        field = null;
                        continue;
                    }
                    Frame parent = open.peek();
                    String path;
                    if (parent == null) {
                        path = "";
                    } else if (parent.isList()) {
                        path = parent.path + "[" + parent.next++ + "]";
                        lines.putIfAbsent(path, line);
                    } else {
                        path = field == null ? parent.path : join(parent.path, field);
                    }
                    if (p instanceof YAMLParser yamlParser && yamlParser.isCurrentAlias()) {
                        aliases.add(new Alias(path, line, p.getText()));
                    }
                    if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                        open.push(new Frame(path, t == JsonToken.START_ARRAY));
                    }
                    field = null;
                }
            } catch (IOException | RuntimeException e) {
                // The real parse reports YAML errors; the index is best effort.
            }
            return new LineIndex(lines, List.copyOf(duplicates), List.copyOf(aliases));
        }

        List<Duplicate> duplicates() {
            return duplicates;
        }

        List<Alias> aliases() {
            return aliases;
        }

        /** The line of {@code path}, or of its nearest ancestor that has one; null when none does. */
        Integer lineOf(String path) {
            String p = path;
            while (!p.isEmpty()) {
                Integer line = lines.get(p);
                if (line != null) return line;
                int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
                p = cut <= 0 ? "" : p.substring(0, cut);
            }
            return null;
        }
    }
}
