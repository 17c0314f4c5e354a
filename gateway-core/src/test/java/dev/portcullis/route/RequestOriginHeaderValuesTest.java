package dev.portcullis.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.portcullis.failure.GatewayFailure;
import dev.portcullis.failure.Reason;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Issue 12, item 7: values the gateway writes from request headers - {@code Access-Control-Allow-Origin}
 * (the mirrored Origin) and {@code X-Forwarded-Host} (the Host, toward the upstream) - hold only characters
 * of their own grammar, even when the configuration allows any host or origin.
 */
class RequestOriginHeaderValuesTest {
    private final RequestOrigin any = new RequestOrigin(Set.of(RequestOrigin.ANY), Set.of(RequestOrigin.ANY));

    private static HttpHeaders request(String host, String origin) {
        HttpHeaders h = new DefaultHttpHeaders(false); // as a lenient decoder could hand them over
        h.add("Host", host);
        if (origin != null) {
            h.add("Origin", origin);
        }
        return h;
    }

    @Test
    void malformedHostIs421EvenWhenAnyHostIsAllowed() {
        for (String host : new String[] {"gw\"x", "gw x", "gw\\x", "gw\u0001", "g\u00e9w", "", "gw\r\nX-Evil: 1"}) {
            assertThatThrownBy(() -> any.check(request(host, null), new DefaultHttpHeaders()))
                    .as(host).isInstanceOfSatisfying(GatewayFailure.class,
                            f -> assertThat(f.reason()).isEqualTo(Reason.MISDIRECTED_HOST));
        }
    }

    @Test
    void hostsOfTheGrammarPass() {
        for (String host : new String[] {"gw.example.com", "gw.example.com:8443", "127.0.0.1:80", "[::1]:8443", "xn--bcher-kva.example"}) {
            any.check(request(host, null), new DefaultHttpHeaders());
        }
    }

    @Test
    void mirroredOriginMustBeASerializedOrigin() {
        for (String origin : new String[] {"https://a.example\", x", "https://a.example/path", "https://a example", "javascript:x",
                "https://a.example\u0001"}) {
            assertThatThrownBy(() -> any.check(request("gw.example.com", origin), new DefaultHttpHeaders()))
                    .as(origin).isInstanceOfSatisfying(GatewayFailure.class,
                            f -> assertThat(f.reason()).isEqualTo(Reason.ORIGIN_NOT_ALLOWED));
        }
        HttpHeaders response = new DefaultHttpHeaders();
        any.check(request("gw.example.com", "https://app.example:8443"), response);
        assertThat(response.get("Access-Control-Allow-Origin")).isEqualTo("https://app.example:8443");
    }
}
