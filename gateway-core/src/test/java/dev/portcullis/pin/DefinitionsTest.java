package dev.portcullis.pin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.portcullis.audit.ArgumentLogging;
import org.junit.jupiter.api.Test;

/** Issue 17: one definition, one hash, whatever the upstream's key order, spacing or extra fields. */
class DefinitionsTest {
    private static JsonNode json(String text) throws Exception {
        return Definitions.JSON.readTree(text);
    }

    @Test
    void theHashIsTheCanonicalDigestTheAuditTrailUsesOfTheDefinitionFieldsOnly() throws Exception {
        JsonNode listed = json("{\"name\":\"echo\",\"description\":\"d\",\"inputSchema\":{\"type\":\"object\"},"
                + "\"icons\":[{\"src\":\"x\"}],\"_meta\":{\"k\":1}}");
        JsonNode definition = json("{\"description\":\"d\",\"inputSchema\":{\"type\":\"object\"},\"name\":\"echo\"}");
        assertThat(Definitions.sha256(PinKind.TOOLS, listed)).isEqualTo(ArgumentLogging.canonicalSha256(definition))
                .matches("[0-9a-f]{64}");
    }

    @Test
    void keyOrderAndWhitespaceDoNotChangeTheHashButEveryDefinitionFieldDoes() throws Exception {
        String base = Definitions.sha256(PinKind.TOOLS, json("{\"name\":\"t\",\"title\":\"T\",\"description\":\"d\","
                + "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}},"
                + "\"outputSchema\":{\"type\":\"object\"},\"annotations\":{\"destructiveHint\":false}}"));
        assertThat(Definitions.sha256(PinKind.TOOLS, json("{ \"annotations\" : {\"destructiveHint\":false}, \"outputSchema\":"
                + "{\"type\":\"object\"}, \"inputSchema\":{\"properties\":{\"a\":{\"type\":\"string\"}},\"type\":\"object\"},"
                + "\"description\":\"d\",\"title\":\"T\",\"name\":\"t\" }"))).isEqualTo(base);
        for (String changed : new String[] {
                "\"title\":\"T2\"", "\"description\":\"d \"", "\"outputSchema\":{\"type\":\"array\"}",
                "\"annotations\":{\"destructiveHint\":true}",
                "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{}}}"}) {
            String field = changed.substring(1, changed.indexOf('"', 1));
            String text = "{\"name\":\"t\",\"title\":\"T\",\"description\":\"d\",\"inputSchema\":{\"type\":\"object\","
                    + "\"properties\":{\"a\":{\"type\":\"string\"}}},\"outputSchema\":{\"type\":\"object\"},"
                    + "\"annotations\":{\"destructiveHint\":false}," + changed + "}";
            // Jackson keeps the last of a repeated key: the changed value.
            JsonNode item = json(text);
            assertThat(Definitions.sha256(PinKind.TOOLS, item)).as(field).isNotEqualTo(base);
            assertThat(Definitions.changedFields(PinKind.TOOLS,
                    Definitions.of(PinKind.TOOLS, json("{\"name\":\"t\",\"title\":\"T\",\"description\":\"d\",\"inputSchema\":"
                            + "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}},\"outputSchema\":"
                            + "{\"type\":\"object\"},\"annotations\":{\"destructiveHint\":false}}")),
                    Definitions.of(PinKind.TOOLS, item))).containsExactly(field);
        }
    }

    @Test
    void numbersKeepTheirValueSoTheDefinitionTextHashesAsTheListDid() throws Exception {
        JsonNode listed = json("{\"name\":\"n\",\"inputSchema\":{\"maximum\":1.10,\"minimum\":1e3,\"big\":123456789012345678901234}}");
        String text = Definitions.text(Definitions.of(PinKind.TOOLS, listed));
        assertThat(Definitions.sha256(Definitions.parse(text))).isEqualTo(Definitions.sha256(PinKind.TOOLS, listed));
        assertThat(Definitions.sha256(PinKind.TOOLS, json("{\"name\":\"n\",\"inputSchema\":{\"maximum\":1.1,\"minimum\":1e3,"
                + "\"big\":123456789012345678901234}}"))).as("a number is its value: 1.10 and 1.1 are one (the list filter's parse)")
                .isEqualTo(Definitions.sha256(PinKind.TOOLS, listed));
    }
}
