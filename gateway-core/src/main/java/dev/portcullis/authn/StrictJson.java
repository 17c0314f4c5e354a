package dev.portcullis.authn;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The JSON of a JOSE object (a token's header and claims, a DPoP proof's header, an introspection answer's claims), read
 * once and strictly, by Jackson: an object whose members each appear once (RFC 7519 §4: rather refused than guessed),
 * nesting bounded, nothing after the object. Nimbus then makes its header or claims set from the members
 * ({@code JWSHeader.parse(Map, Base64URL)}, {@code JWTClaimsSet.parse(Map)}), as it does from its own parser's.
 *
 * <p>Numbers come out as Nimbus's own parser gives them (Gson, {@code ToNumberPolicy.LONG_OR_DOUBLE}): an integer
 * that fits a {@code long} as a {@link Long}, any other number as a {@link Double}; a number too large for a double
 * is refused, as Gson refuses it. So a claim reads the same whichever parser read it (issue 13: the claims used to be
 * parsed twice, once to check them and once by Nimbus's Gson, 2.4 µs and 8.7 KB per never-seen token).
 */
final class StrictJson {
    private static final JsonFactory STRICT = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(32).build())
            .build();
    private static final TypeReference<Map<String, Object>> MEMBERS = new TypeReference<>() {};
    private static final ObjectReader OBJECT = new ObjectMapper(STRICT)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .readerFor(MEMBERS);

    private StrictJson() {}

    /**
     * The members of a JSON object, strictly read (see the class comment).
     *
     * @throws IllegalStateException when it is not one JSON object, a member name repeats, or a number is out of range
     */
    static Map<String, Object> object(byte[] json) {
        Map<String, Object> members;
        try {
            members = OBJECT.readValue(json);
        } catch (IOException e) {
            throw new IllegalStateException("not strict JSON", e);
        }
        if (members == null) {
            throw new IllegalStateException("not a JSON object");
        }
        normalizeNumbers(members);
        return members;
    }

    /** As {@link #object(byte[])}, for JSON text. */
    static Map<String, Object> object(String json) {
        return object(json.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /**
     * As {@link #object(byte[])} for one base64url part of a compact JWS (its header or payload), decoded with the JDK's
     * decoder (strict: a character outside the alphabet fails; Nimbus's decoder skips it).
     *
     * @throws IllegalArgumentException when the part is not base64url
     */
    static Map<String, Object> object(com.nimbusds.jose.util.Base64URL part) {
        return object(java.util.Base64.getUrlDecoder().decode(part.toString()));
    }

    /** Jackson's numbers as Gson's LONG_OR_DOUBLE gives them: Long, or Double (finite); in place, at every depth. */
    @SuppressWarnings("unchecked")
    private static Object normalized(Object value) {
        if (value instanceof Map<?, ?> map) {
            normalizeNumbers((Map<String, Object>) map);
        } else if (value instanceof List<?> list) {
            List<Object> items = (List<Object>) list;
            for (int i = 0; i < items.size(); i++) {
                items.set(i, normalized(items.get(i)));
            }
        } else if (value instanceof Integer i) {
            return i.longValue();
        } else if (value instanceof Number n && !(value instanceof Long)) {
            // a Double, or a BigInteger beyond a long (Gson: a Double); BigDecimal is never made (floats are doubles)
            double d = n.doubleValue();
            if (!Double.isFinite(d)) {
                throw new IllegalStateException("number out of range");
            }
            return value instanceof Double ? value : d;
        }
        return value;
    }

    private static void normalizeNumbers(Map<String, Object> members) {
        members.replaceAll((name, value) -> normalized(value));
    }
}
