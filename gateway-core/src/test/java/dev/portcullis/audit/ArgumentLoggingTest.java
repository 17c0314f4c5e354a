package dev.portcullis.audit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class ArgumentLoggingTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode tree(String json) throws Exception {
        return JSON.readTree(json);
    }

    @Test
    void digestIsSha256OfTheCanonicalJsonWithSortedKeysAtEveryDepth() throws Exception {
        JsonNode args = tree("{\"b\":[1,2.5,{\"z\":null,\"a\":\"x\"}],\"a\":{\"d\":true,\"c\":\"\\u00e9\\\"\"}}");
        // The canonical form, spelled out: keys sorted at every level, no whitespace, Jackson escaping.
        String canonical = "{\"a\":{\"c\":\"\u00e9\\\"\",\"d\":true},\"b\":[1,2.5,{\"a\":\"x\",\"z\":null}]}";
        String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(canonical.getBytes(StandardCharsets.UTF_8)));

        assertThat(ArgumentLogging.digest(args)).isEqualTo(expected);
        // ... and the same as the sorted-map serialisation it replaced.
        ObjectMapper sorted = new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
        byte[] viaMaps = sorted.writeValueAsBytes(sorted.treeToValue(args, Object.class));
        assertThat(new String(viaMaps, StandardCharsets.UTF_8)).isEqualTo(canonical);
    }

    @Test
    void digestIgnoresKeyOrderButNotValues() throws Exception {
        String one = ArgumentLogging.digest(tree("{\"path\":\"/etc\",\"depth\":2}"));
        assertThat(ArgumentLogging.digest(tree("{\"depth\":2,\"path\":\"/etc\"}"))).isEqualTo(one);
        assertThat(ArgumentLogging.digest(tree("{\"depth\":3,\"path\":\"/etc\"}"))).isNotEqualTo(one);
        assertThat(ArgumentLogging.digest(tree("{\"depth\":[2],\"path\":\"/etc\"}"))).isNotEqualTo(one);
    }

    @Test
    void modesRenderWhatTheyPromise() throws Exception {
        JsonNode args = tree("{\"query\":\"secret plans\",\"limit\":5}");
        assertThat(new ArgumentLogging(ArgumentLogging.Mode.DIGEST, List.of()).render(args))
                .isEqualTo("sha256:" + ArgumentLogging.digest(args));
        assertThat(new ArgumentLogging(ArgumentLogging.Mode.NONE, List.of()).render(args)).isNull();
        assertThat(new ArgumentLogging(ArgumentLogging.Mode.KEYS, List.of()).render(args)).isEqualTo(List.of("limit", "query"));
        assertThat(new ArgumentLogging(ArgumentLogging.Mode.FULL, List.of("query")).render(args))
                .isEqualTo("{\"query\":\"[redacted]\",\"limit\":5}");
    }

    @Test
    void aRedactedPathReachesIntoEveryElementOfAListOnItsWay() throws Exception {
        // Issue 17 (the approval page masks with these paths): a secret inside an array was shown.
        var logging = new ArgumentLogging(ArgumentLogging.Mode.FULL, java.util.List.of("items.card"));
        var arguments = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                "{\"items\":[{\"card\":\"4111\",\"qty\":1},{\"card\":\"5500\"}],\"card\":\"top\"}");
        org.assertj.core.api.Assertions.assertThat((String) logging.render(arguments)).doesNotContain("4111")
                .doesNotContain("5500").contains("\"qty\":1").contains("\"card\":\"top\"");
        org.assertj.core.api.Assertions.assertThat(logging.masked(arguments, java.util.List.of("card")).toString())
                .doesNotContain("4111").doesNotContain("top");
    }
}
