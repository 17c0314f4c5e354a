package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.portcullis.app.config.ConfigLoader;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.RegisterExtension;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * SECURITY-03/04 through the running gateway: the JWKS fetch refuses redirects, names that resolve
 * to non-public addresses, oversized and slow answers; a failed refresh keeps the last good keys.
 * The key server is a scripted Reactor Netty server on 127.0.0.1 serving the TestIdp's real keys.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OutboundFetchTest {
    @RegisterExtension
    static final GatewayExtension peers = GatewayExtension.builder().noGateway().build();
    private final AtomicReference<String> mode = new AtomicReference<>("keys");
    private final AtomicInteger served = new AtomicInteger();
    private final TestIdp idp = peers.idp();
    private final TestMcpServer upstream = peers.upstream();
    private DisposableServer keyServer;
    private String idpKeys;

    @BeforeAll
    void startKeyServer() {
        keyServer = HttpServer.create().host("127.0.0.1").port(0)
                .route(r -> r.get("/jwks", (req, res) -> {
                    served.incrementAndGet();
                    return switch (mode.get()) {
                        case "redirect" -> res.status(302).header("Location", "http://169.254.169.254/latest/meta-data/").send();
                        case "big" -> res.header("Content-Type", "application/json").sendString(Mono.just(
                                "{\"keys\":[],\"padding\":\"" + "x".repeat(600 * 1024) + "\"}"));
                        case "silent" -> Mono.never();
                        default -> res.header("Content-Type", "application/json").sendString(Mono.just(idpKeys));
                    };
                }))
                .bindNow();
    }

    @AfterAll
    void stopKeyServer() {
        keyServer.disposeNow();
    }

    @BeforeEach
    void reset() throws Exception {
        mode.set("keys");
        served.set(0);
        // The IdP's current key set (a test may have rotated it)
        idpKeys = java.net.http.HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(idp.jwksUri())).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    private String yaml(String jwksUri, String extraIssuerYaml, String outboundYaml) {
        return GatewayHarness.config(idp.issuer(), upstream.url(), "allowed-hosts: [127.0.0.1]",
                "jwks-uri: " + jwksUri + "\n" + extraIssuerYaml, "") + outboundYaml;
    }

    private String keyServerJwks(String host) {
        return "http://" + host + ":" + keyServer.port() + "/jwks";
    }

    private static int initialize(GatewayHarness gw, String token) {
        String initialize = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                + "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
        return gw.send(gw.post(initialize).header("Authorization", "Bearer " + token).build()).statusCode();
    }

    private static double metric(GatewayHarness gw, String outcome) {
        String metrics = gw.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.gateway.adminPort() + "/metrics"))
                .build()).body();
        Matcher m = Pattern.compile("portcullis_jwks_fetches_total\\{[^}]*outcome=\"" + outcome + "\"[^}]*} ([0-9.E]+)")
                .matcher(metrics);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) {
        Instant deadline = Instant.now().plusSeconds(10);
        while (!condition.getAsBoolean()) {
            assertThat(Instant.now()).as("waiting for: " + what).isBefore(deadline);
            GatewayHarness.sleep(50);
        }
    }

    @Test
    void security03JwksRedirectToTheMetadataServiceFailsTheFetchAndTheLastGoodKeysAreKept() {
        try (GatewayHarness gw = GatewayHarness.startYaml(yaml(keyServerJwks("127.0.0.1"),
                "jwks-refresh: 1s\njwks-min-refresh-interval: 1s", ""))) {
            String token = idp.accessToken(RESOURCE, "mcp:tools");
            assertThat(initialize(gw, token)).isEqualTo(200);

            mode.set("redirect");
            int before = served.get();
            GatewayHarness.sleep(1100);
            // A read after jwks-refresh starts the background refresh, which meets the redirect.
            await("a refresh that met the redirect", () -> {
                initialize(gw, idp.accessToken(RESOURCE, "mcp:tools"));
                return served.get() > before && metric(gw, "failure") >= 1;
            });
            assertThat(initialize(gw, token)).isEqualTo(200);
            assertThat(initialize(gw, idp.accessToken(RESOURCE, "mcp:tools"))).as("a new token under the kept key").isEqualTo(200);
            assertThat(gw.gateway.ready()).isTrue();
            // An unknown kid re-fetches (and meets the redirect again): a 401, not a 500, and still no key from elsewhere.
            idp.rotateKey();
            String rotated = idp.accessToken(RESOURCE, "mcp:tools");
            assertThat(initialize(gw, rotated)).isEqualTo(401);
        }
    }

    @Test
    void security03AJwksHostNameThatResolvesToLoopbackIsRefusedUnlessAllowListed() {
        // The issuer names 127.0.0.1 literally, the JWKS URL names "localhost": its answer is judged, and refused.
        try (GatewayHarness gw = GatewayHarness.wrap(Gateway.start(ConfigLoader.parse(
                yaml(keyServerJwks("localhost"), "", ""), "test.yaml")))) {
            await("a failed fetch", () -> metric(gw, "failure") >= 1);
            assertThat(served).hasValue(0);
            assertThat(gw.gateway.ready()).isFalse();
            assertThat(initialize(gw, idp.accessToken(RESOURCE, "mcp:tools"))).isEqualTo(503);
        }
        try (GatewayHarness gw = GatewayHarness.startYaml(yaml(keyServerJwks("localhost"), "",
                "outbound: { allow-private: [127.0.0.1, \"::1\"] }"))) {
            assertThat(served.get()).isPositive();
            assertThat(initialize(gw, idp.accessToken(RESOURCE, "mcp:tools"))).isEqualTo(200);
        }
    }

    @Test
    void security03AnOversizedJwksIsRefused() {
        mode.set("big");
        try (GatewayHarness gw = GatewayHarness.wrap(Gateway.start(ConfigLoader.parse(
                yaml(keyServerJwks("127.0.0.1"), "", ""), "test.yaml")))) {
            await("a failed fetch", () -> metric(gw, "failure") >= 1);
            assertThat(served.get()).isPositive();
            assertThat(gw.gateway.ready()).isFalse();
            assertThat(initialize(gw, idp.accessToken(RESOURCE, "mcp:tools"))).isEqualTo(503);
        }
    }

    @Test
    void security03ASilentJwksTimesOut() {
        mode.set("silent");
        long start = System.nanoTime();
        try (GatewayHarness gw = GatewayHarness.wrap(Gateway.start(ConfigLoader.parse(
                yaml(keyServerJwks("127.0.0.1"), "", "outbound: { timeout: 1s }"), "test.yaml")))) {
            await("a failed fetch", () -> metric(gw, "failure") >= 1);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
            assertThat(gw.gateway.ready()).isFalse();
            // Once the key server answers, the next attempt (a request with a token) loads the keys.
            mode.set("keys");
            await("keys loaded after the server recovers", () -> initialize(gw, idp.accessToken(RESOURCE, "mcp:tools")) == 200);
        }
    }
}
