package dev.portcullis.authn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jwt.JWTClaimsSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The one strict reading of a JOSE object's JSON (a token's header and claims, a proof's header, introspected claims). */
class StrictJsonTest {

    @Test
    void membersReadAsNimbusReadsThemNumbersIncluded() throws Exception {
        String json = """
                {"iss":"https://idp.example","exp":1796630148,"small":7,"neg":-3,"big":123456789012345678901234567890,
                 "f":1.5,"e":1e3,"t":true,"n":null,"aud":["a","b"],"cnf":{"jkt":"x","deep":[1,{"k":2.25}]},
                 "text":"caf\\u00e9 \\"q\\""}""";
        Map<String, Object> nimbus = JSONObjectUtils.parse(json);
        Map<String, Object> strict = StrictJson.object(json);
        assertEquals(nimbus, strict);
        assertEquals(Long.class, strict.get("small").getClass());
        assertEquals(Double.class, strict.get("big").getClass());
        assertEquals(Double.class, strict.get("e").getClass());
        assertEquals(Long.class, ((List<?>) ((Map<?, ?>) strict.get("cnf")).get("deep")).get(0).getClass());
        assertEquals(JWTClaimsSet.parse(json).toJSONObject(), JWTClaimsSet.parse(strict).toJSONObject());
    }

    @Test
    void aMemberNamedTwiceIsRefusedAtAnyDepth() {
        assertThrows(IllegalStateException.class, () -> StrictJson.object("{\"sub\":\"a\",\"sub\":\"b\"}"));
        assertThrows(IllegalStateException.class, () -> StrictJson.object("{\"cnf\":{\"jkt\":\"a\",\"jkt\":\"b\"}}"));
        assertThrows(IllegalStateException.class, () -> StrictJson.object("{\"l\":[{\"x\":1,\"x\":1}]}"));
    }

    @Test
    void onlyOneObjectIsAccepted() {
        for (String notOne : List.of("[1]", "\"s\"", "1", "null", "", "{\"a\":1}{\"b\":2}", "{\"a\":1} x", "{\"a\":1",
                "{'a':1}", "{\"a\":NaN}")) {
            assertThrows(IllegalStateException.class, () -> StrictJson.object(notOne), notOne);
        }
        assertEquals(Map.of("a", 1L), StrictJson.object(" {\"a\":1} \n"));
    }

    @Test
    void aNumberBeyondADoubleAndDeepNestingAreRefused() {
        assertThrows(IllegalStateException.class, () -> StrictJson.object("{\"exp\":1e999}"));
        assertThrows(IllegalStateException.class, () -> StrictJson.object("{\"exp\":-1" + "0".repeat(400) + "}"));
        String deep = "{\"a\":".repeat(40) + "1" + "}".repeat(40);
        assertThrows(IllegalStateException.class, () -> StrictJson.object(deep));
    }

    @Test
    void aBase64urlPartIsDecodedStrictly() {
        assertEquals(Map.of("alg", "RS256"), StrictJson.object(com.nimbusds.jose.util.Base64URL.encode("{\"alg\":\"RS256\"}")));
        // '*' is outside the alphabet: Nimbus's decoder would skip it, the JDK's refuses it.
        assertThrows(IllegalArgumentException.class,
                () -> StrictJson.object(new com.nimbusds.jose.util.Base64URL("eyJhbGciOiJSUzI1NiJ9*")));
    }
}
