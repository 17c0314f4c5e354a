package dev.portcullis.pin;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.portcullis.audit.ArgumentLogging;
import java.io.IOException;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What a pinned item's definition is, and its hash (issue 17): the item's definition fields ({@link PinKind#fields})
 * as an object, hashed as SHA-256 of its canonical JSON (keys sorted, numbers as parsed) with the audit trail's one
 * canonical writer ({@link ArgumentLogging#writeCanonical}). The gateway, {@code portcullis pin} and the pins file
 * reader all parse JSON the same way ({@link #JSON}: as the list filter does, big decimals and integers), so one
 * definition has one hash wherever it is computed.
 */
public final class Definitions {
    /** Parses as the list filter does (numbers keep their digits), strict about trailing content. */
    public static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
            .build();

    private Definitions() {}

    /** The definition of {@code item}: its definition fields that are present, as they are. */
    public static ObjectNode of(PinKind kind, JsonNode item) {
        ObjectNode definition = JSON.createObjectNode();
        for (String field : kind.fields()) {
            JsonNode value = item.get(field);
            if (value != null) {
                definition.set(field, value);
            }
        }
        return definition;
    }

    /** SHA-256 (hex) of the definition's canonical JSON. */
    public static String sha256(ObjectNode definition) {
        return ArgumentLogging.canonicalSha256(definition);
    }

    /** SHA-256 (hex) of {@code item}'s definition. */
    public static String sha256(PinKind kind, JsonNode item) {
        return sha256(of(kind, item));
    }

    /**
     * The definition as the reviewer reads it: canonical JSON (keys sorted), indented, one member per line, every
     * character outside printable ASCII escaped as a backslash-u escape, so an invisible or look-alike character in a
     * description cannot hide in a review.
     */
    public static String text(ObjectNode definition) {
        StringWriter out = new StringWriter();
        DefaultIndenter indenter = new DefaultIndenter("  ", "\n");
        try (JsonGenerator generator = JSON.getFactory().createGenerator(out)) {
            generator.enable(JsonGenerator.Feature.ESCAPE_NON_ASCII);
            generator.setPrettyPrinter(new DefaultPrettyPrinter().withObjectIndenter(indenter).withArrayIndenter(indenter));
            ArgumentLogging.writeCanonical(definition, generator);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.append('\n').toString();
    }

    /** A definition text back as a definition. @throws IOException when it is not one JSON object */
    public static ObjectNode parse(String text) throws IOException {
        JsonNode node = JSON.readTree(text);
        if (node == null || !node.isObject()) {
            throw new IOException("not a JSON object");
        }
        return (ObjectNode) node;
    }

    /** The definition fields whose values differ between {@code pinned} and {@code seen}, in field order. */
    public static List<String> changedFields(PinKind kind, ObjectNode pinned, ObjectNode seen) {
        List<String> changed = new ArrayList<>();
        for (String field : kind.fields()) {
            if (!Objects.equals(fieldHash(pinned.get(field)), fieldHash(seen.get(field)))) {
                changed.add(field);
            }
        }
        return changed;
    }

    private static String fieldHash(JsonNode value) {
        return value == null ? null : ArgumentLogging.canonicalSha256(value);
    }
}
