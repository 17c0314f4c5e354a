package dev.portcullis.app.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
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
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * are errors. {@code ${NAME}} is replaced by the environment variable NAME before parsing (an unset
 * variable is an error); values never appear in messages, so a secret stays unprinted.
 */
public final class ConfigLoader {
    private static final Pattern ENV = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)}");

    private ConfigLoader() {}

    /** A configuration file that cannot be used; the message is ready to show to the operator. */
    public static final class InvalidConfigException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        InvalidConfigException(String message) {
            super(message, null, false, false);
        }
    }

    public static GatewayConfig load(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new InvalidConfigException(file + ": cannot be read (" + e.getClass().getSimpleName() + ")");
        }
        Path base = file.toAbsolutePath().getParent();
        return parse(text, file.toString(), base, System::getenv);
    }

    public static GatewayConfig parse(String yaml, String sourceName) {
        return parse(yaml, sourceName, null, System::getenv);
    }

    /**
     * @param baseDir relative file paths in the config (TLS files) resolve against it; null keeps them as written
     * @param env     environment lookup for {@code ${NAME}}
     */
    public static GatewayConfig parse(String yaml, String sourceName, Path baseDir, Function<String, String> env) {
        Map<String, String> substituted = new java.util.LinkedHashMap<>();
        String expanded = expandEnvironment(yaml, sourceName, env, substituted);
        ObjectMapper mapper = mapper(baseDir);
        try {
            GatewayConfig config = mapper.readValue(expanded, GatewayConfig.class);
            if (config == null) {
                throw new InvalidConfigException(sourceName + ": is empty (expected: listen, admin, issuers, routes)");
            }
            return config;
        } catch (JsonMappingException e) {
            throw new InvalidConfigException(redact(describe(e, sourceName, expanded), substituted));
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new InvalidConfigException(sourceName + ":" + (at == null ? "?" : at.getLineNr())
                    + ": not valid YAML (" + e.getOriginalMessage() + ")");
        }
    }

    /** Values that came from the environment are shown as the {@code ${NAME}} they replaced. */
    private static String redact(String message, Map<String, String> substituted) {
        String out = message;
        for (Map.Entry<String, String> entry : substituted.entrySet()) {
            if (!entry.getKey().isEmpty()) {
                out = out.replace(entry.getKey(), "${" + entry.getValue() + "}");
            }
        }
        return out;
    }

    private static String expandEnvironment(String yaml, String sourceName, Function<String, String> env,
                                            Map<String, String> substituted) {
        StringBuilder out = new StringBuilder(yaml.length());
        String[] lines = yaml.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            int hash = commentStart(line);
            Matcher m = ENV.matcher(line);
            StringBuilder replaced = new StringBuilder();
            while (m.find()) {
                if (hash >= 0 && m.start() > hash) {
                    break;
                }
                String value = env.apply(m.group(1));
                if (value == null) {
                    throw new InvalidConfigException(sourceName + ":" + (i + 1) + ": ${" + m.group(1)
                            + "} is not set (expected: an environment variable)");
                }
                substituted.put(value, m.group(1));
                m.appendReplacement(replaced, Matcher.quoteReplacement(value));
            }
            m.appendTail(replaced);
            out.append(replaced);
            if (i < lines.length - 1) {
                out.append('\n');
            }
        }
        return out.toString();
    }

    private static int commentStart(String line) {
        int hash = line.indexOf(" #");
        return line.stripLeading().startsWith("#") ? 0 : hash;
    }

    private static String describe(JsonMappingException e, String sourceName, String yaml) {
        String path = pathOf(e);
        LineIndex index = LineIndex.of(yaml);
        ConfigException invalid = findCause(e, ConfigException.class);
        if (invalid != null) {
            String field = invalid.field().isEmpty() ? path : path.isEmpty() ? invalid.field() : path + "." + invalid.field();
            return sourceName + ":" + line(index, field, e) + ": " + field + ": " + invalid.getMessage();
        }
        String at = sourceName + ":" + line(index, path, e) + ": " + path + ": ";
        if (e instanceof UnrecognizedPropertyException unknown) {
            return at + "unknown key (expected one of: " + unknown.getKnownPropertyIds().stream()
                    .map(String::valueOf).sorted().collect(Collectors.joining(", ")) + ")";
        }
        IllegalArgumentException bad = findCause(e, IllegalArgumentException.class);
        if (bad != null) {
            return at + bad.getMessage();
        }
        if (e instanceof InvalidFormatException format) {
            return at + shown(format.getValue()) + " (expected: " + expectedName(format.getTargetType()) + ")";
        }
        if (e instanceof MismatchedInputException mismatch && mismatch.getTargetType() != null) {
            return at + "wrong type (expected: " + expectedName(mismatch.getTargetType()) + ")";
        }
        return at + e.getOriginalMessage();
    }

    /** The line where the field stands in the file; Jackson's location as a fallback. */
    private static int line(LineIndex index, String path, JsonMappingException e) {
        Integer line = index.lineOf(path);
        return line != null ? line : lineOf(e);
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

    private static int lineOf(JsonMappingException e) {
        JsonLocation at = e.getLocation();
        return at == null ? 0 : at.getLineNr();
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
        return JsonMapper.builder(new YAMLFactory())
                .propertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .addModule(units)
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

    /** Maps a config path ({@code routes[1].path}) to the line where its value stands. */
    static final class LineIndex {
        private final Map<String, Integer> lines;

        private LineIndex(Map<String, Integer> lines) {
            this.lines = lines;
        }

        static LineIndex of(String yaml) {
            Map<String, Integer> lines = new java.util.HashMap<>();
            try (JsonParser p = new YAMLFactory().createParser(yaml)) {
                java.util.ArrayDeque<Object> stack = new java.util.ArrayDeque<>();
                java.util.ArrayDeque<int[]> indexes = new java.util.ArrayDeque<>();
                String field = null;
                JsonToken t;
                while ((t = p.nextToken()) != null) {
                    switch (t) {
                        case FIELD_NAME -> {
                            field = p.currentName();
                            lines.put(join(stack, field), p.currentTokenLocation().getLineNr());
                        }
                        case START_OBJECT, START_ARRAY -> {
                            Object key = keyFor(stack, indexes, field);
                            if (key != null) stack.push(key);
                            indexes.push(new int[] {t == JsonToken.START_ARRAY ? 0 : -1});
                            if (key != null) lines.putIfAbsent(join(stack, null), p.currentTokenLocation().getLineNr());
                            field = null;
                        }
                        case END_OBJECT, END_ARRAY -> {
                            indexes.pop();
                            if (!stack.isEmpty()) stack.pop();
                            field = null;
                        }
                        default -> {
                            if (field == null && !indexes.isEmpty() && indexes.peek()[0] >= 0) {
                                String element = join(stack, null) + "[" + indexes.peek()[0] + "]";
                                lines.putIfAbsent(element, p.currentTokenLocation().getLineNr());
                                indexes.peek()[0]++;
                            }
                            field = null;
                        }
                    }
                }
            } catch (IOException e) {
                // The real parse reports YAML errors; the index is best effort.
            }
            return new LineIndex(lines);
        }

        private static Object keyFor(java.util.ArrayDeque<Object> stack, java.util.ArrayDeque<int[]> indexes, String field) {
            if (field != null) return field;
            if (!indexes.isEmpty() && indexes.peek()[0] >= 0) {
                return "[" + indexes.peek()[0]++ + "]";
            }
            return null;
        }

        private static String join(java.util.ArrayDeque<Object> stack, String last) {
            StringBuilder out = new StringBuilder();
            var it = stack.descendingIterator();
            while (it.hasNext()) {
                String part = it.next().toString();
                if (part.startsWith("[") || out.length() == 0) out.append(part);
                else out.append('.').append(part);
            }
            if (last != null) {
                if (out.length() > 0) out.append('.');
                out.append(last);
            }
            return out.toString();
        }

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
