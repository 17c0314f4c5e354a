package dev.portcullis.authn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

class BearerTokenExtractorTest {
    private final BearerTokenExtractor extractor = new BearerTokenExtractor();

    private static HttpHeaders headers(String... authorization) {
        HttpHeaders h = new DefaultHttpHeaders();
        for (String value : authorization) {
            h.add("Authorization", value);
        }
        return h;
    }

    private void assertReason(HttpHeaders headers, String uri, Reason reason) {
        assertThatThrownBy(() -> extractor.extract(headers, uri))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.reason()).isEqualTo(reason));
    }

    @Test
    void authn02SchemeIsCaseInsensitive() {
        assertThat(extractor.extract(headers("bearer abc.def.ghi"), "/mcp").value()).isEqualTo("abc.def.ghi");
        assertThat(extractor.extract(headers("BEARER abc"), "/mcp").value()).isEqualTo("abc");
    }

    @Test
    void authn02QueryTokenAloneIsNoCredentials() {
        assertReason(headers(), "/mcp?access_token=abc.def.ghi", Reason.NO_CREDENTIALS);
    }

    @Test
    void authn03TwoAuthorizationHeadersIsInvalidRequest() {
        assertReason(headers("Bearer a", "Bearer b"), "/mcp", Reason.INVALID_CREDENTIALS_REQUEST);
    }

    @Test
    void authn03HeaderPlusQueryTokenIsInvalidRequest() {
        assertReason(headers("Bearer a"), "/mcp?access_token=b", Reason.INVALID_CREDENTIALS_REQUEST);
    }

    @Test
    void dpopSchemeIsACredentialOnlyWhereDpopIsAccepted() {
        BearerTokenExtractor.Presented presented = extractor.extract(headers("DPoP abc.def.ghi"), "/mcp", true);
        assertThat(presented.dpop()).isTrue();
        assertThat(presented.token().value()).isEqualTo("abc.def.ghi");
        assertThat(extractor.extract(headers("dpop abc"), "/mcp", true).dpop()).isTrue();
        assertThat(extractor.extract(headers("Bearer abc"), "/mcp", true).dpop()).isFalse();
        assertReason(headers("DPoP abc.def.ghi"), "/mcp", Reason.NO_CREDENTIALS);
        assertThatThrownBy(() -> extractor.extract(headers("DPoP a b"), "/mcp", true))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.reason()).isEqualTo(Reason.INVALID_CREDENTIALS_REQUEST));
        assertThatThrownBy(() -> extractor.extract(headers("DPoP a", "Bearer a"), "/mcp", true))
                .isInstanceOfSatisfying(GatewayFailure.class, f -> assertThat(f.reason()).isEqualTo(Reason.INVALID_CREDENTIALS_REQUEST));
    }

    @Test
    void otherSchemesAreNoBearerCredentials() {
        assertReason(headers("Basic dXNlcjpwYXNz"), "/mcp", Reason.NO_CREDENTIALS);
        assertReason(headers(), "/mcp", Reason.NO_CREDENTIALS);
    }

    @Test
    void malformedBearerValueIsInvalidRequest() {
        assertReason(headers("Bearer"), "/mcp", Reason.INVALID_CREDENTIALS_REQUEST);
        assertReason(headers("Bearer a b"), "/mcp", Reason.INVALID_CREDENTIALS_REQUEST);
        assertReason(headers("Bearer \"quoted\""), "/mcp", Reason.INVALID_CREDENTIALS_REQUEST);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({
            "abc, true", "aB9-._~+/, true", "eyJ.eyJ.sig==, true", "a=, true", "a==, true",
            "'', false", "=, false", "==a, false", "a=b, false", "a b, false", "a\"b, false", "a%20, false",
            "'a,b', false", "é, false", "'a\tb', false",
            // checked over Latin-1 bytes: beyond Latin-1 a character becomes '?', itself no b64token character;
            // a byte from 0x80 on (ÿ is 0xFF, negative as a Java byte) is refused too
            "a€b, false", "日本, false", "a?b, false", "aÿ, false", "ÿ, false"})
    void b64TokenGrammarOfRfc6750(String token, boolean valid) {
        assertThat(BearerTokenExtractor.isB64Token(token.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1)))
                .isEqualTo(valid);
    }

    /** The cache key is the SHA-256 of the token's UTF-8, whether computed from the checked bytes or the text. */
    @Test
    void theTokensHashIsItsUtf8Sha256() {
        BearerToken token = extractor.extract(headers("Bearer eyJ.abc-_~+/.sig=="), "/mcp");
        assertThat(token.value()).isEqualTo("eyJ.abc-_~+/.sig==");
        assertThat(token.sha256()).isEqualTo(new BearerToken("eyJ.abc-_~+/.sig==").sha256())
                .isEqualTo(dev.portcullis.Sha256.hex("eyJ.abc-_~+/.sig==".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    @Test
    void tokenNeverAppearsInToString() {
        BearerToken token = extractor.extract(headers("Bearer secret-token-value"), "/mcp");
        assertThat(token.toString()).doesNotContain("secret-token-value").startsWith("BearerToken[sha256:");
    }

    /** Issue 12: a query with a malformed percent-encoding threw inside the decoder (a 500); it is a 400 now. */
    @Test
    void malformedQueryPercentEncodingIsInvalidRequestNotA500() {
        assertReason(headers("Bearer abc"), "/mcp?x=%zz", Reason.INVALID_CREDENTIALS_REQUEST);
        assertReason(headers("Bearer abc"), "/mcp?access%5Ftoken=%", Reason.INVALID_CREDENTIALS_REQUEST);
        assertReason(headers("Bearer abc"), "/mcp?access%5Ftoken=abc", Reason.INVALID_CREDENTIALS_REQUEST);
    }
}
