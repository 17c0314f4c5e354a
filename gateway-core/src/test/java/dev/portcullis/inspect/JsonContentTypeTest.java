package dev.portcullis.inspect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Issue 12, item 6: the gateway inspects UTF-8 JSON, so nothing else may be declared for the upstream to decode. */
class JsonContentTypeTest {

    private static HttpHeaders headers(String name, String... values) {
        HttpHeaders h = new DefaultHttpHeaders();
        for (String value : values) {
            h.add(name, value);
        }
        return h;
    }

    private static void assert415(HttpHeaders headers, String message) {
        assertThatThrownBy(() -> JsonContentType.require(headers)).isInstanceOfSatisfying(GatewayFailure.class, f -> {
            assertThat(f.reason()).isEqualTo(Reason.UNSUPPORTED_MEDIA_TYPE);
            assertThat(f.description()).contains(message);
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; charset=\"utf-8\"",
            "application/json; CHARSET=Utf-8",
            "application/json;",
            "application/json; profile=x",
    })
    void utf8JsonIsAccepted(String contentType) {
        assertThatCode(() -> JsonContentType.require(headers("Content-Type", contentType))).doesNotThrowAnyException();
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "application/json; charset=GBK",
            "application/json; charset=gbk",
            "application/json; charset=\"GBK\"",
            "application/json; charset=utf-16",
            "application/json; charset=UTF-16BE",
            "application/json; charset=iso-8859-1",
            "application/json; charset=utf8",
            "application/json; charset=",
            "application/json; charset",
            "application/json; charset=\"utf-8",
            "application/json; charset=utf-8; charset=gbk",
            "application/json; charset*=utf-8''",
            "application/json; charset*0=gbk",
    })
    void charsetDifferentialOtherCharsetsAre415(String contentType) {
        assert415(headers("Content-Type", contentType), "no charset other than utf-8");
    }

    @ParameterizedTest
    @ValueSource(strings = {"text/plain", "application/jsonp", "application/json-patch+json", "application/x-www-form-urlencoded",
            "application/json, text/plain", "multipart/form-data; boundary=x", ""})
    void otherMediaTypesAre415(String contentType) {
        assert415(headers("Content-Type", contentType), "Content-Type must be application/json");
    }

    @Test
    void missingOrRepeatedContentTypeIs415() {
        assert415(new DefaultHttpHeaders(), "Content-Type must be application/json");
        assert415(headers("Content-Type", "application/json", "application/json; charset=gbk"), "given once");
    }

    @Test
    void contentCodedBodiesAre415() {
        HttpHeaders gzip = headers("Content-Type", "application/json");
        gzip.add("Content-Encoding", "gzip");
        assert415(gzip, "Content-Encoding");
        HttpHeaders identity = headers("Content-Type", "application/json");
        identity.add("Content-Encoding", "identity");
        assertThatCode(() -> JsonContentType.require(identity)).doesNotThrowAnyException();
    }
}
