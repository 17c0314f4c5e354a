package dev.portcullis.authn;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import java.io.IOException;

/** Rejects JSON whose objects repeat a member name (token headers and claims). */
final class StrictJson {
    private static final JsonFactory STRICT = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(32).build())
            .build();

    private StrictJson() {}

    /**
     * As {@link #requireUniqueMembers(String)} for one base64url part of a compact JWS (its header or payload), decoded
     * with the JDK's decoder (intrinsic, several times faster than a second pass of Nimbus's) straight to bytes.
     *
     * @return the decoded JSON text (UTF-8), checked
     * @throws IllegalArgumentException when the part is not base64url
     * @throws IllegalStateException when a member name repeats or the text is not JSON
     */
    static String requireUniqueMembers(com.nimbusds.jose.util.Base64URL part) {
        byte[] json = java.util.Base64.getUrlDecoder().decode(part.toString());
        try (JsonParser parser = STRICT.createParser(json)) {
            while (parser.nextToken() != null) {
                // reading every token is what triggers the duplicate check
            }
        } catch (IOException e) {
            throw new IllegalStateException("not strict JSON", e);
        }
        return new String(json, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** @throws IllegalStateException when a member name repeats or the text is not JSON */
    static void requireUniqueMembers(String json) {
        try (JsonParser parser = STRICT.createParser(json)) {
            while (parser.nextToken() != null) {
                // reading every token is what triggers the duplicate check
            }
        } catch (IOException e) {
            throw new IllegalStateException("not strict JSON", e);
        }
    }
}
