package dev.portcullis.route;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.portcullis.StageFixtures;
import dev.portcullis.failure.Reason;
import dev.portcullis.listen.RequestHead;
import dev.portcullis.policy.Policy;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stage 2 alone: a head in, an outcome out; each check's test fails when the check is removed. */
class RouteStageTest {
    private RouteStage stage;

    @BeforeEach
    void setUp(@TempDir Path dir) throws Exception {
        Policy policy = StageFixtures.policy(dir);
        stage = new RouteStage(new RouteTable(List.of(StageFixtures.route(policy))),
                new RequestOrigin(Set.of("gw.example.com"), Set.of("https://gw.example.com")), new ObjectMapper());
    }

    private static RequestHead head(HttpMethod method, String uri, String... headers) {
        DefaultHttpHeaders h = new DefaultHttpHeaders();
        h.set("Host", "gw.example.com");
        for (int i = 0; i + 1 < headers.length; i += 2) {
            h.set(headers[i], headers[i + 1]);
        }
        return RequestHead.of(method, uri, h);
    }

    @Test
    void prm07MetadataIsAnsweredByTheGatewayWithoutAToken() {
        RouteStage.Outcome outcome = stage.apply(head(HttpMethod.GET, "/.well-known/oauth-protected-resource/mcp"));
        assertThat(outcome).isInstanceOfSatisfying(RouteStage.Answer.class, answer -> {
            assertThat(answer.status()).isEqualTo(200);
            assertThat(new String(answer.body(), StandardCharsets.UTF_8)).contains("\"resource\":\"" + StageFixtures.RESOURCE + "\"");
            assertThat(answer.headers().get("Access-Control-Allow-Origin")).isEqualTo("*");
        });
        assertThat(stage.apply(head(HttpMethod.POST, "/.well-known/oauth-protected-resource/mcp")))
                .isInstanceOfSatisfying(RouteStage.Answer.class, answer -> assertThat(answer.status()).isEqualTo(405));
        assertThat(stage.apply(head(HttpMethod.GET, "/.well-known/other")))
                .isInstanceOfSatisfying(RouteStage.Answer.class, answer -> assertThat(answer.status()).isEqualTo(404));
    }

    @Test
    void dotSegmentsMatchNoRouteEvenUnderARoutePrefix() {
        for (String uri : List.of("/mcp/../admin", "/mcp/./x", "/mcp/%2e%2e/admin", "/mcp/a%2fb", "/mcp\\x")) {
            assertThat(stage.apply(head(HttpMethod.POST, uri))).as(uri)
                    .isInstanceOfSatisfying(RouteStage.Refused.class, r -> assertThat(r.failure().reason()).isEqualTo(Reason.NO_ROUTE));
        }
        assertThat(stage.apply(head(HttpMethod.POST, "/other"))).isInstanceOfSatisfying(RouteStage.Refused.class,
                r -> assertThat(r.route()).isNull());
    }

    @Test
    void proxy04ForeignHostIsRefusedBeforeTheTokenIsLookedAt() {
        RouteStage.Outcome outcome = stage.apply(RequestHead.of(HttpMethod.POST, "/mcp",
                new DefaultHttpHeaders().set("Host", "evil.example").set("Authorization", "Bearer x")));
        assertThat(outcome).isInstanceOfSatisfying(RouteStage.Refused.class,
                r -> assertThat(r.failure().reason()).isEqualTo(Reason.MISDIRECTED_HOST));
    }

    @Test
    void proxy05ForeignOriginIsRefusedAndAnAllowedOneGetsCorsHeaders() {
        assertThat(stage.apply(head(HttpMethod.POST, "/mcp", "Origin", "https://evil.example")))
                .isInstanceOfSatisfying(RouteStage.Refused.class,
                        r -> assertThat(r.failure().reason()).isEqualTo(Reason.ORIGIN_NOT_ALLOWED));
        assertThat(stage.apply(head(HttpMethod.POST, "/mcp", "Origin", "https://gw.example.com")))
                .isInstanceOfSatisfying(RouteStage.Routed.class,
                        r -> assertThat(r.cors().get("Access-Control-Allow-Origin")).isEqualTo("https://gw.example.com"));
    }

    @Test
    void transport01PreflightIsAnsweredHere() {
        assertThat(stage.apply(head(HttpMethod.OPTIONS, "/mcp", "Origin", "https://gw.example.com")))
                .isInstanceOfSatisfying(RouteStage.Answer.class, answer -> {
                    assertThat(answer.status()).isEqualTo(204);
                    assertThat(answer.headers().get("Access-Control-Allow-Methods")).contains("POST");
                    assertThat(answer.headers().get("Access-Control-Allow-Origin")).isEqualTo("https://gw.example.com");
                });
    }

    /** CHALLENGE-08, RFC 9449 §7.1 and §8: a browser client may send a DPoP proof and must read a DPoP-Nonce. */
    @Test
    void challenge08CorsLetsBrowsersSendDpopAndReadItsNonce() {
        assertThat(stage.apply(head(HttpMethod.OPTIONS, "/mcp", "Origin", "https://gw.example.com")))
                .isInstanceOfSatisfying(RouteStage.Answer.class, answer -> assertThat(
                        List.of(answer.headers().get("Access-Control-Allow-Headers").split(", "))).contains("Authorization", "DPoP"));
        assertThat(stage.apply(head(HttpMethod.POST, "/mcp", "Origin", "https://gw.example.com")))
                .isInstanceOfSatisfying(RouteStage.Routed.class, r -> assertThat(
                        List.of(r.cors().get("Access-Control-Expose-Headers").split(", "))).contains("WWW-Authenticate", "DPoP-Nonce"));
    }

    @Test
    void methodsOtherThanPostGetDeleteAre405() {
        for (HttpMethod method : List.of(HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.HEAD, HttpMethod.TRACE)) {
            assertThat(stage.apply(head(method, "/mcp"))).as(method.name()).isInstanceOfSatisfying(RouteStage.Refused.class,
                    r -> assertThat(r.failure().reason()).isEqualTo(Reason.METHOD_NOT_ALLOWED));
        }
    }

    @Test
    void aGoodRequestIsRoutedWithAFreshRequestId() {
        RouteStage.Routed first = (RouteStage.Routed) stage.apply(head(HttpMethod.POST, "/mcp/sub?x=1"));
        RouteStage.Routed second = (RouteStage.Routed) stage.apply(head(HttpMethod.GET, "/mcp"));
        assertThat(first.request().route().name()).isEqualTo("r");
        assertThat(first.request().head().rawQuery()).isEqualTo("x=1");
        assertThat(first.request().requestId()).isNotEqualTo(second.request().requestId());
        assertThat(first.cors().isEmpty()).isTrue();
    }
}
