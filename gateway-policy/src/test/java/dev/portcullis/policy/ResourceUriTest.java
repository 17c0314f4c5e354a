package dev.portcullis.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Issue 12, item 1: which resource URIs the gateway decides on, and RFC 3986 normalisation. */
class ResourceUriTest {

    /** RFC 3986 §5.2.4's own examples, and the merged paths of the §5.4.1/§5.4.2 examples (base /b/c/d;p). */
    @ParameterizedTest(name = "{0} → {1}")
    @CsvSource({
            "/a/b/c/./../../g, /a/g",
            "mid/content=5/../6, mid/6",
            // §5.4.1 normal examples, after merge with the base path /b/c/d;p
            "/b/c/./g, /b/c/g",
            "/b/c/g/, /b/c/g/",
            "/b/c/., /b/c/",
            "/b/c/./, /b/c/",
            "/b/c/.., /b/",
            "/b/c/../, /b/",
            "/b/c/../g, /b/g",
            "/b/c/../.., /",
            "/b/c/../../, /",
            "/b/c/../../g, /g",
            // §5.4.2 abnormal examples
            "/b/c/../../../g, /g",
            "/b/c/../../../../g, /g",
            "/./g, /g",
            "/../g, /g",
            "/b/c/g., /b/c/g.",
            "/b/c/.g, /b/c/.g",
            "/b/c/g.., /b/c/g..",
            "/b/c/..g, /b/c/..g",
            "/b/c/./../g, /b/g",
            "/b/c/./g/., /b/c/g/",
            "/b/c/g/./h, /b/c/g/h",
            "/b/c/g/../h, /b/c/h",
            "/b/c/g;x=1/./y, /b/c/g;x=1/y",
            "/b/c/g;x=1/../y, /b/c/y",
    })
    void removeDotSegmentsFollowsRfc3986(String path, String expected) {
        assertThat(ResourceUri.removeDotSegments(path)).isEqualTo(expected);
    }

    /** RFC 3986 §6.2.2: case, percent-encoding and path segment normalisation. */
    @ParameterizedTest(name = "{0} → {1}")
    @CsvSource({
            "HTTP://www.Example.com/, http://www.example.com/",
            "example://a/b/c/%7Bfoo%7D, example://a/b/c/%7Bfoo%7D",
            "eXAMPLE://a/./b/../b/%63/%7bfoo%7d, example://a/b/c/%7Bfoo%7D",
            "demo://resource/static/document/../../dynamic/text/1, demo://resource/dynamic/text/1",
            "demo://resource/static/document/%2e%2e/%2E%2E/dynamic/text/1, demo://resource/dynamic/text/1",
            "file:///workspace/x/../../etc/passwd, file:///etc/passwd",
            "http://User@EXAMPLE.com:8080/a, http://User@example.com:8080/a",
            "urn:isbn:0451450523, urn:isbn:0451450523",
    })
    void normalizeFollowsRfc3986Section622(String uri, String expected) {
        assertThat(ResourceUri.normalize(uri)).isEqualTo(expected);
        assertThat(ResourceUri.normalize(expected)).as("idempotent").isEqualTo(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "demo://resource/static/document/1",
            "demo://resource/static/document/",
            "file:///workspace/notes.txt",
            "file:///workspace/a%20b.txt",
            "test://static/resource/1",
            "https://example.com/a/b?x=../y&z=%2F#frag",
            "urn:isbn:0451450523",
            "demo://resource/a.b/..c/c..",
            "file:///workspace/Ünïcode.txt",
            "tickets://SECURITY/7",
    })
    void normalUrisAreDecidedOn(String uri) {
        assertThat(ResourceUri.problem(uri)).isEmpty();
    }

    /** The bypasses and their siblings: each one refused with its reason. */
    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = '|', value = {
            "demo://resource/static/document/../../dynamic/text/1 | dot segment",
            "demo://resource/static/document/./1 | dot segment",
            "demo://resource/static/document/.. | dot segment",
            "demo://resource/static/document/%2e%2e/%2e%2e/dynamic/text/1 | percent-encoded unreserved",
            "demo://resource/static/document/%2E%2E/dynamic | percent-encoded unreserved",
            "demo://resource/static/document/%64ynamic | percent-encoded unreserved",
            "file:///workspace/x/../../etc/passwd | dot segment",
            "file:///workspace/x/..%2F..%2Fetc/passwd | encoded slash",
            "file:///workspace/x/..%2f..%2fetc/passwd | lower-case percent-encoding",
            "file:///workspace/x\\..\\..\\etc\\passwd | backslash",
            "file:///workspace/x%5C..%5Cetc | backslash",
            "file:///workspace//etc/passwd | empty segment",
            "file:////etc/passwd | empty segment",
            "FILE:///workspace/x | upper-case scheme",
            "https://EXAMPLE.com/docs/1 | upper-case host",
            "file://LOCALHOST/etc/passwd | upper-case host",
            "demo://resource/static/document/1%zz | malformed percent-encoding",
            "demo://resource/static/document/1% | malformed percent-encoding",
            "demo:static/../secret | dot segment",
            "../secret | dot segment",
    })
    void nonNormalUrisAreRefusedWithTheirReason(String uri, String reason) {
        assertThat(ResourceUri.problem(uri)).hasValueSatisfying(p -> assertThat(p).contains(reason));
    }

    @Test
    void controlCharactersAndEmptyUrisAreRefused() {
        assertThat(ResourceUri.problem("demo://resource/a\nb")).contains("control character");
        assertThat(ResourceUri.problem("demo://resource/a\u0000")).contains("control character");
        assertThat(ResourceUri.problem("")).contains("empty URI");
        assertThat(ResourceUri.problem(null)).contains("empty URI");
    }

    @Test
    void everyNormalUriIsAFixedPointOfNormalize() {
        for (String uri : new String[] {"demo://resource/static/document/1", "file:///a/b/", "urn:x:y", "http://h:1/p?q#f"}) {
            assertThat(ResourceUri.isNormal(uri)).isTrue();
            assertThat(ResourceUri.normalize(uri)).isEqualTo(uri);
        }
    }

    @Test
    void templatesAreJudgedOnTheirLiteralText() {
        assertThat(ResourceUri.templateProblem("demo://resource/dynamic/text/{id}")).isEmpty();
        assertThat(ResourceUri.templateProblem("file:///workspace/{+path}")).isEmpty();
        assertThat(ResourceUri.templateProblem("demo://resource/static/document/../../dynamic/{id}"))
                .hasValueSatisfying(p -> assertThat(p).contains("dot segment"));
        assertThat(ResourceUri.templateProblem("demo://resource/{a}/%2e%2e/{b}"))
                .hasValueSatisfying(p -> assertThat(p).contains("percent-encoded unreserved"));
        assertThat(ResourceUri.templateProblem("demo://resource/{a}//{b}")).isNotEqualTo(Optional.empty());
    }
}
