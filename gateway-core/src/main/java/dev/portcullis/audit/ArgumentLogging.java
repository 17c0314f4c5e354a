package dev.portcullis.audit;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * What the audit trail keeps of a call's arguments.
 *
 * <ul>
 *   <li>{@code digest} (default): SHA-256 of the canonical JSON (keys sorted), so an investigation can
 *       match calls without the log storing their content;</li>
 *   <li>{@code none}: nothing;</li>
 *   <li>{@code keys}: the top-level argument names only;</li>
 *   <li>{@code full}: the arguments, with the configured paths (dot paths) replaced by {@code "[redacted]"}.</li>
 * </ul>
 */
public final class ArgumentLogging {
    public enum Mode { DIGEST, NONE, KEYS, FULL }

    private static final ObjectMapper CANONICAL = JsonMapper.builder()
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).build();

    static {
        // Build Jackson's (lock-guarded) deserializers and serializers now, not on an event loop.
        digest(CANONICAL.createObjectNode().put("warm", 1).set("up", CANONICAL.createArrayNode().add(1.5)));
    }

    private final Mode mode;
    private final List<String[]> redactedPaths;

    public ArgumentLogging(Mode mode, List<String> redact) {
        this.mode = mode;
        this.redactedPaths = redact.stream().map(p -> p.split("\\.")).toList();
    }

    public static ArgumentLogging parse(String mode, List<String> redact) {
        return new ArgumentLogging(Mode.valueOf(mode.toUpperCase(Locale.ROOT)), redact);
    }

    /** The value for the audit event's {@code arguments} field, or null to leave the field out. */
    public Object render(JsonNode arguments) {
        if (arguments == null || arguments.isMissingNode() || arguments.isNull()) {
            return null;
        }
        return switch (mode) {
            case NONE -> null;
            case DIGEST -> "sha256:" + digest(arguments);
            case KEYS -> {
                List<String> keys = new ArrayList<>();
                arguments.fieldNames().forEachRemaining(keys::add);
                keys.sort(null);
                yield keys;
            }
            case FULL -> redacted(arguments);
        };
    }

    /**
     * SHA-256 of the arguments' canonical JSON (object keys sorted, no whitespace), computed while the
     * canonical form is written straight into the digest: no intermediate tree, map or byte array.
     */
    public static String digest(JsonNode arguments) {
        MessageDigest sha256 = dev.portcullis.Sha256.newDigest();
        try (JsonGenerator out = CANONICAL.getFactory().createGenerator(new DigestSink(sha256))) {
            writeCanonical(arguments, out);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
        return HexFormat.of().formatHex(sha256.digest());
    }

    /**
     * SHA-256 (hex) of any JSON value's canonical form, as {@link #digest}: what a pinned tool definition is
     * hashed with (issue 17, {@code dev.portcullis.pin}), so arguments and definitions share one canonical form.
     */
    public static String canonicalSha256(JsonNode value) {
        return digest(value);
    }

    /**
     * Writes {@code node} in canonical form (object keys sorted; numbers as parsed) to {@code out}; the generator's
     * pretty printer, if any, only adds whitespace. The one canonical JSON writer of the gateway.
     */
    public static void writeCanonical(JsonNode node, JsonGenerator out) throws java.io.IOException {
        if (node.isObject()) {
            List<java.util.Map.Entry<String, JsonNode>> members = new ArrayList<>(node.size());
            node.fields().forEachRemaining(members::add);
            members.sort(java.util.Map.Entry.comparingByKey());
            out.writeStartObject();
            for (java.util.Map.Entry<String, JsonNode> member : members) {
                out.writeFieldName(member.getKey());
                writeCanonical(member.getValue(), out);
            }
            out.writeEndObject();
        } else if (node.isArray()) {
            out.writeStartArray();
            for (JsonNode element : node) {
                writeCanonical(element, out);
            }
            out.writeEndArray();
        } else if (node.isTextual()) {
            out.writeString(node.textValue());
        } else if (node.isIntegralNumber()) {
            if (node.canConvertToLong()) {
                out.writeNumber(node.longValue());
            } else {
                out.writeNumber(node.bigIntegerValue());
            }
        } else if (node.isBigDecimal()) {
            out.writeNumber(node.decimalValue());
        } else if (node.isNumber()) {
            out.writeNumber(node.doubleValue());
        } else if (node.isBoolean()) {
            out.writeBoolean(node.booleanValue());
        } else if (node.isNull()) {
            out.writeNull();
        } else {
            CANONICAL.writeTree(out, node); // binary or POJO nodes: not produced by parsing JSON
        }
    }

    /** Bytes written to it are fed to the digest and nowhere else. */
    private static final class DigestSink extends java.io.OutputStream {
        private final MessageDigest digest;

        DigestSink(MessageDigest digest) {
            this.digest = digest;
        }

        @Override
        public void write(int b) {
            digest.update((byte) b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            digest.update(b, off, len);
        }
    }


    private String redacted(JsonNode arguments) {
        JsonNode copy = arguments.deepCopy();
        for (String[] path : redactedPaths) {
            redact(copy, path, 0);
        }
        return copy.toString();
    }

    /**
     * Issue 17: a copy of {@code arguments} for people to read (the approval page): the audit's redacted paths
     * and {@code more} (the approval rule's {@code mask}) replaced by {@code "[redacted]"}.
     */
    public JsonNode masked(JsonNode arguments, List<String> more) {
        if (arguments == null || arguments.isMissingNode()) {
            return null;
        }
        JsonNode copy = arguments.deepCopy();
        for (String[] path : redactedPaths) {
            redact(copy, path, 0);
        }
        for (String path : more) {
            redact(copy, path.split("\\."), 0);
        }
        return copy;
    }

    private static void redact(JsonNode node, String[] path, int at) {
        if (node instanceof com.fasterxml.jackson.databind.node.ArrayNode array) {
            // Issue 17: a path reaches into every element of a list on its way (items.card masks each item's card),
            // so a secret is not shown merely because it was sent inside an array.
            array.forEach(element -> redact(element, path, at));
            return;
        }
        if (!(node instanceof ObjectNode object) || !object.has(path[at])) {
            return;
        }
        if (at == path.length - 1) {
            object.put(path[at], "[redacted]");
        } else {
            redact(object.get(path[at]), path, at + 1);
        }
    }
}
