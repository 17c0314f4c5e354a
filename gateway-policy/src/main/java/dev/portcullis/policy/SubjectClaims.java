package dev.portcullis.policy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Builds a {@link Subject} from a token's claims (a JSON object) using the generic claim names, for
 * {@code explain} and tests: {@code iss}, {@code sub}, {@code client_id} (else {@code azp}) as the
 * agent, {@code scope} (a space-delimited string or an array; else {@code scp}, either form) and
 * {@code roles} (an array or a single string). Absent claims give empty values. The gateway itself
 * builds subjects from validated tokens with the issuer's configured claim names.
 */
public final class SubjectClaims {
    /** A claim written twice is refused, as the gateway refuses such a token. */
    private static final ObjectMapper JSON = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private SubjectClaims() {}

    /**
     * @throws IllegalArgumentException when the text is not a JSON object or a claim has the wrong type
     */
    public static Subject fromJson(String claimsJson) {
        try {
            return fromClaims(JSON.readTree(claimsJson));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("claims: not valid JSON (" + e.getOriginalMessage() + ")");
        }
    }

    /** @throws IllegalArgumentException when {@code claims} is not an object or a claim has the wrong type */
    public static Subject fromClaims(JsonNode claims) {
        if (claims == null || !claims.isObject()) {
            throw new IllegalArgumentException("claims: expected a JSON object");
        }
        String agent = text(claims, "client_id");
        if (agent.isEmpty()) {
            agent = text(claims, "azp");
        }
        Set<String> scopes = claims.has("scope") ? words(claims, "scope") : words(claims, "scp");
        JsonNode act = claims.get("act");
        return Subject.of(text(claims, "iss"), text(claims, "sub"), agent, scopes, words(claims, "roles"),
                act != null && act.isObject() ? JSON.convertValue(act, java.util.Map.class) : null);
    }

    private static String text(JsonNode claims, String name) {
        JsonNode value = claims.get(name);
        if (value == null || value.isNull()) {
            return "";
        }
        if (!value.isTextual()) {
            throw new IllegalArgumentException("claims: " + name + ": expected a string");
        }
        return value.textValue();
    }

    /** A space-delimited string or an array of strings. */
    private static Set<String> words(JsonNode claims, String name) {
        Set<String> out = new LinkedHashSet<>();
        JsonNode value = claims.get(name);
        if (value == null || value.isNull()) {
            return out;
        }
        if (value.isTextual()) {
            for (String word : value.textValue().split(" ")) {
                if (!word.isEmpty()) out.add(word);
            }
            return out;
        }
        if (value.isArray()) {
            for (JsonNode element : value) {
                if (!element.isTextual()) {
                    throw new IllegalArgumentException("claims: " + name + ": expected strings in the list");
                }
                out.add(element.textValue());
            }
            return out;
        }
        throw new IllegalArgumentException("claims: " + name + ": expected a space-delimited string or a list of strings");
    }
}
