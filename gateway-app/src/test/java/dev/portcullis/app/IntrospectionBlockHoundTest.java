package dev.portcullis.app;

import dev.portcullis.testing.BlockingCalls;
import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.okJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.portcullis.testing.TestIdp;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.netty.DisposableServer;

/**
 * Issue 16: token introspection (RFC 7662) on the request path never blocks an event loop: a first call, a cached
 * answer, an inactive token, a lying answer, an answer that is not JSON, a call slower than the timeout, and ten
 * concurrent requests sharing one call. BlockHound watches every Netty and Reactor non-blocking thread the whole time.
 *
 * <p>Runs in a JVM of its own (surefire execution {@code blockhound-introspection}): BlockHound, once installed, stays
 * for the life of the JVM, and another test class's installation would keep this one's callback out.
 */
@Tag("blockhound-introspection")
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class IntrospectionBlockHoundTest {
    private static String active(String aud) {
        long now = Instant.now().getEpochSecond();
        return "{\"active\":true,\"sub\":\"user-1\",\"aud\":\"" + aud + "\",\"scope\":\"mcp:tools\",\"iat\":" + now
                + ",\"exp\":" + (now + 600) + "}";
    }

    @Test
    void introspectingTokensNeverBlocksAnEventLoop() throws Exception {
        BlockingCalls blocking = BlockingCalls.install();
        DisposableServer upstream = GatewayExtension.emptyResultUpstream();
        WireMockServer endpoint = new WireMockServer(options().bindAddress("127.0.0.1").dynamicPort());
        endpoint.start();
        // The last stub that matches wins: the default answer first, then the tokens with answers of their own.
        endpoint.stubFor(post(urlEqualTo("/introspect")).willReturn(okJson(active(RESOURCE))));
        endpoint.stubFor(post(urlEqualTo("/introspect")).withRequestBody(containing("token=bh-inactive&"))
                .willReturn(okJson("{\"active\":false}")));
        endpoint.stubFor(post(urlEqualTo("/introspect")).withRequestBody(containing("token=bh-lying&"))
                .willReturn(okJson(active("https://elsewhere.example.com/mcp"))));
        endpoint.stubFor(post(urlEqualTo("/introspect")).withRequestBody(containing("token=bh-html&"))
                .willReturn(aResponse().withStatus(200).withBody("<html></html>")));
        endpoint.stubFor(post(urlEqualTo("/introspect")).withRequestBody(containing("token=bh-slow&"))
                .willReturn(okJson(active(RESOURCE)).withFixedDelay(5_000)));
        endpoint.stubFor(post(urlEqualTo("/introspect")).withRequestBody(containing("token=bh-shared&"))
                .willReturn(okJson(active(RESOURCE)).withFixedDelay(200)));
        ExecutorService callers = Executors.newFixedThreadPool(10);
        try (TestIdp idp = TestIdp.start();
             GatewayHarness gw = GatewayHarness.start(idp.issuer(), "http://127.0.0.1:" + upstream.port() + "/mcp", null, """
                     introspection:
                       endpoint: http://127.0.0.1:%d/introspect
                       client-id: portcullis
                       client-secret: bh-secret
                       tokens: all
                       timeout: 3s""".formatted(endpoint.port()))) {
            List<String> unexpected = new ArrayList<>();
            java.util.function.BiConsumer<String, Integer> expect = (token, status) -> {
                HttpResponse<String> r = gw.send(gw.post(GatewayHarness.toolCall(1, "echo"))
                        .header("Authorization", "Bearer " + token).build());
                if (r.statusCode() != status) {
                    unexpected.add(token + ": " + r.statusCode() + " " + r.body());
                }
            };
            // A first call warms the introspection client up (its status is not judged: a cold start under BlockHound
            // on a busy machine may outrun the timeout); it runs under BlockHound like the rest.
            gw.send(gw.post(GatewayHarness.toolCall(1, "echo")).header("Authorization", "Bearer bh-warm-up").build());
            for (int i = 0; i < 20; i++) {
                expect.accept("bh-active-" + i, 200);
                expect.accept("bh-active-" + i, 200); // the cached answer
            }
            expect.accept(idp.accessToken(RESOURCE, "mcp:tools"), 200); // a JWT, verified and introspected (tokens: all)
            expect.accept("bh-inactive", 401);
            expect.accept("bh-lying", 401);
            expect.accept("bh-html", 503);
            expect.accept("bh-slow", 503);
            List<CompletableFuture<Void>> concurrent = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                concurrent.add(CompletableFuture.runAsync(() -> expect.accept("bh-shared", 200), callers));
            }
            CompletableFuture.allOf(concurrent.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            assertThat(unexpected).isEmpty();
            endpoint.verify(1, postRequestedFor(urlEqualTo("/introspect")).withRequestBody(containing("token=bh-shared&")));
            assertThat(endpoint.getAllServeEvents()).as("every token but the cached ones was introspected").hasSize(27);
            System.out.println("issue 16 introspection BlockHound run: " + endpoint.getAllServeEvents().size()
                    + " introspection calls, " + blocking.seen().size() + " blocking call(s)");
            assertThat(blocking.seen()).as(String.join("\n\n", blocking.seen())).isEmpty();
        } finally {
            callers.shutdownNow();
            endpoint.stop();
            upstream.disposeNow();
        }
    }
}
