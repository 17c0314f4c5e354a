package dev.portcullis.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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

    static String digest(JsonNode arguments) {
        try {
            Object plain = CANONICAL.treeToValue(arguments, Object.class);
            byte[] canonical = CANONICAL.writeValueAsBytes(plain);
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(canonical));
        } catch (JsonProcessingException | NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private String redacted(JsonNode arguments) {
        JsonNode copy = arguments.deepCopy();
        for (String[] path : redactedPaths) {
            redact(copy, path, 0);
        }
        return copy.toString();
    }

    private static void redact(JsonNode node, String[] path, int at) {
        if (!(node instanceof ObjectNode object) || !object.has(path[at])) {
            return;
        }
        if (at == path.length - 1) {
            object.put(path[at], "[redacted]");
        } else {
            redact(object.get(path[at]), path, at + 1);
        }
    }


    public static String sha256(String value) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
