package dev.portcullis.inspect;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Parses a POST body once, strictly, and classifies each JSON-RPC message.
 *
 * <p>Strict so that the gateway and the upstream cannot read the same bytes differently
 * (POLICY-02): duplicate keys are an error, nesting depth is bounded, numbers keep their exact
 * digits, trailing content is an error. The original bytes are what gets forwarded.
 */
public final class JsonRpcInspector {
    /** Deep enough for any real tool arguments, shallow enough to stop depth bombs. */
    public static final int MAX_DEPTH = 64;

    private final ObjectMapper mapper;

    public JsonRpcInspector() {
        JsonFactory factory = JsonFactory.builder()
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
                .build();
        this.mapper = JsonMapper.builder(factory)
                .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
                .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .build();
        // Jackson builds its deserializers on first use under a lock; do it here, at start, not on an event loop.
        inspect("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":[1.5,true,null]}}"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Messages of the body; a batch (JSON array) gives one per element, in order. */
    public List<McpMessage> inspect(byte[] body) {
        JsonNode root;
        try (JsonParser parser = plainAscii(body) ? mapper.createParser(body) : mapper.createParser(strictUtf8(body))) {
            root = mapper.readTree(parser);
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("Duplicate field")) {
                // POLICY-02: valid JSON syntax, but not a message the gateway and upstream read alike.
                throw GatewayFailure.of(Reason.INVALID_JSONRPC, "Invalid Request", "duplicate member name");
            }
            throw GatewayFailure.of(Reason.PARSE_ERROR, "Parse error", "body is not valid JSON: " + e.getClass().getSimpleName());
        }
        if (root == null || root.isMissingNode()) {
            throw GatewayFailure.of(Reason.PARSE_ERROR, "Parse error", "empty body");
        }
        if (root.isArray()) {
            if (root.isEmpty()) {
                throw GatewayFailure.of(Reason.INVALID_JSONRPC, "Invalid Request", "empty batch");
            }
            List<McpMessage> messages = new ArrayList<>(root.size());
            for (JsonNode element : root) {
                messages.add(classify(element));
            }
            return List.copyOf(messages);
        }
        return List.of(classify(root));
    }

    /**
     * Bytes 0x01-0x7F only: valid UTF-8 that reads the same as ASCII, which Jackson's byte parser takes as UTF-8
     * (its encoding detection looks for a byte-order mark or zero bytes, neither possible here). Such a body
     * is parsed from its bytes; any other goes through {@link #strictUtf8} first.
     */
    static boolean plainAscii(byte[] body) {
        for (byte b : body) {
            if (b <= 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Strict UTF-8 (MCP requires it): overlong forms, encoded surrogates, code points past U+10FFFF and UTF-16/32
     * bodies are refused here, so the gateway and the upstream cannot read the same bytes as different names
     * (Jackson's byte parser would accept some of them, and guesses UTF-16/32 from zero bytes).
     */
    static String strictUtf8(byte[] body) {
        try {
            return java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(body)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw GatewayFailure.of(Reason.PARSE_ERROR, "Parse error", "body is not valid UTF-8");
        }
    }

    /** JSONRPC-01: request, notification or response; anything else is -32600. */
    static McpMessage classify(JsonNode node) {
        if (!node.isObject()) {
            throw invalid(null, "message is not an object");
        }
        JsonNode id = node.get("id");
        boolean hasId = id != null;
        if (hasId && !(id.isTextual() || id.isIntegralNumber())) {
            throw invalid(null, "id must be a string or an integer");
        }
        if (!"2.0".equals(node.path("jsonrpc").textValue())) {
            throw invalid(id, "jsonrpc must be \"2.0\"");
        }
        JsonNode method = node.get("method");
        JsonNode params = node.get("params");
        if (params != null && !(params.isObject() || params.isArray())) {
            throw invalid(id, "params must be an object or array");
        }
        if (method != null) {
            if (!method.isTextual() || method.textValue().isEmpty()) {
                throw invalid(id, "method must be a non-empty string");
            }
            String name = method.textValue();
            McpMessage.Kind kind = hasId ? McpMessage.Kind.REQUEST : McpMessage.Kind.NOTIFICATION;
            return new McpMessage(kind, id, name, target(name, params), params);
        }
        boolean hasResult = node.has("result");
        boolean hasError = node.has("error");
        if (hasId && hasResult != hasError) {
            return new McpMessage(McpMessage.Kind.RESPONSE, id, null, Optional.empty(), null);
        }
        throw invalid(id, "neither a request, a notification nor a response");
    }

    private static Optional<String> target(String method, JsonNode params) {
        String field = switch (method) {
            case "tools/call", "prompts/get" -> "name";
            case "resources/read", "resources/subscribe", "resources/unsubscribe" -> "uri";
            default -> null;
        };
        if (field == null || params == null) {
            return Optional.empty();
        }
        JsonNode value = params.get(field);
        return value != null && value.isTextual() ? Optional.of(value.textValue()) : Optional.empty();
    }

    private static GatewayFailure invalid(JsonNode id, String detail) {
        return GatewayFailure.of(Reason.INVALID_JSONRPC, "Invalid Request", detail).withJsonRpcId(id);
    }

    public ObjectMapper mapper() {
        return mapper;
    }
}
