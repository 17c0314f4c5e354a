package dev.portcullis.app;

import static dev.portcullis.app.GatewayHarness.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.portcullis.testing.TestIdp;
import dev.portcullis.testing.TestMcpServer;
import io.netty.channel.ChannelOption;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;

/**
 * Faults the gateway must survive (issue 6): the IdP down and back with a new key, a slow JWKS
 * endpoint, an upstream that is down, silent, or drops an SSE stream mid-way, a client that walks
 * away from a stream. Every request gets a definite answer and the SSE gauge returns to baseline.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FaultsTest {
    private static final String INITIALIZE = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
            + "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";

    private static HttpResponse<String> initialize(GatewayHarness gw, String token) {
        return gw.send(gw.post(INITIALIZE).header("Authorization", "Bearer " + token).build());
    }

    /** A well-formed token for the IdP's issuer, signed by a key the IdP never published. */
    private static String foreignKidToken(TestIdp idp) throws Exception {
        RSAKey key = new RSAKeyGenerator(2048).keyID("never-published-" + UUID.randomUUID()).generate();
        JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer(idp.issuer()).subject(TestIdp.SUBJECT).audience(RESOURCE)
                .claim("scope", "mcp:tools").claim("client_id", TestIdp.CLIENT_ID).issueTime(new Date())
                .expirationTime(Date.from(Instant.now().plusSeconds(600))).jwtID(UUID.randomUUID().toString()).build();
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID())
                .type(JOSEObjectType.JWT).build(), claims);
        jwt.sign(new RSASSASigner(key));
        return jwt.serialize();
    }

    static double sseStreamsActive(GatewayHarness gw) {
        String metrics = gw.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.gateway.adminPort() + "/metrics"))
                .build()).body();
        Matcher m = Pattern.compile("(?m)^portcullis_sse_streams_active(?:\\{[^}]*})? ([0-9.E]+)").matcher(metrics);
        assertThat(m.find()).as("portcullis_sse_streams_active in /metrics").isTrue();
        return Double.parseDouble(m.group(1));
    }

    static void await(String what, Duration within, java.util.function.BooleanSupplier condition) {
        Instant deadline = Instant.now().plus(within);
        while (!condition.getAsBoolean()) {
            assertThat(Instant.now()).as("waiting for: " + what).isBefore(deadline);
            GatewayHarness.sleep(50);
        }
    }

    // --- the IdP ---------------------------------------------------------------------------------

    @Test
    void idpDownKnownKeysWorkUnknownKidsAre401AndTheNewKeyIsLearnedWhenItIsBack() throws Exception {
        TestIdp idp = TestIdp.start();
        int port = idp.port();
        try (TestMcpServer upstream = TestMcpServer.start();
             GatewayHarness gw = GatewayHarness.start(idp.issuer(), upstream.url(), null, "jwks-min-refresh-interval: 1s")) {
            String seen = idp.accessToken(RESOURCE, "mcp:tools");
            assertThat(initialize(gw, seen).statusCode()).isEqualTo(200);
            String unseenKnownKey = idp.accessToken(RESOURCE, "mcp:tools");

            idp.stop();
            assertThat(initialize(gw, seen).statusCode()).isEqualTo(200);
            assertThat(initialize(gw, unseenKnownKey).statusCode()).isEqualTo(200);
            // An unknown kid while the IdP is down: the re-fetch fails, the last good keys stay, and the token is
            // simply not verifiable: 401 invalid_token, not a 500 and not a 503.
            HttpResponse<String> unknown = initialize(gw, foreignKidToken(idp));
            assertThat(unknown.statusCode()).isEqualTo(401);
            assertThat(unknown.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(h -> assertThat(h).contains("invalid_token"));
            assertThat(gw.gateway.ready()).isTrue();

            // The IdP comes back on the same port with a new key: its tokens are accepted once the next
            // re-fetch is allowed (jwks-min-refresh-interval), without a restart.
            idp = TestIdp.start(port);
            String fresh = idp.accessToken(RESOURCE, "mcp:tools");
            TestIdp back = idp;
            await("a token under the new key accepted", Duration.ofSeconds(10), () -> initialize(gw, fresh).statusCode() == 200);
            assertThat(back.jwksFetches()).isPositive();
        } finally {
            idp.close();
        }
    }

    @Test
    void aSlowJwksEndpointDoesNotDelayRequestsWithCachedKeys() throws Exception {
        try (TestIdp idp = TestIdp.start(); TestMcpServer upstream = TestMcpServer.start()) {
            String keys = java.net.http.HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(idp.jwksUri())).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            AtomicReference<Duration> delay = new AtomicReference<>(Duration.ZERO);
            AtomicInteger pending = new AtomicInteger();
            DisposableServer jwks = HttpServer.create().host("127.0.0.1").port(0)
                    .route(r -> r.get("/jwks", (req, res) -> {
                        pending.incrementAndGet();
                        return res.header("Content-Type", "application/json")
                                .sendString(Mono.delay(delay.get()).thenReturn(keys).doFinally(s -> pending.decrementAndGet()));
                    }))
                    .bindNow();
            String issuerYaml = "jwks-uri: http://127.0.0.1:" + jwks.port() + "/jwks\njwks-refresh: 1s\njwks-min-refresh-interval: 1s";
            try (GatewayHarness gw = GatewayHarness.start(idp.issuer(), upstream.url(), null, issuerYaml)) {
                String token = idp.accessToken(RESOURCE, "mcp:tools");
                assertThat(initialize(gw, token).statusCode()).isEqualTo(200);

                delay.set(Duration.ofSeconds(4));
                GatewayHarness.sleep(1100);
                // This read finds the keys due for refresh and starts it in the background; the key server now takes 4 s.
                assertThat(initialize(gw, token).statusCode()).isEqualTo(200);
                // An unknown kid forces a re-fetch too, and waits for it (its caller only).
                CompletableFuture<HttpResponse<String>> unknownKid = CompletableFuture.supplyAsync(() -> {
                    try {
                        return initialize(gw, foreignKidToken(idp));
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                await("the slow refresh in flight", Duration.ofSeconds(2), () -> pending.get() > 0);
                for (int i = 0; i < 20; i++) {
                    long start = System.nanoTime();
                    String fresh = idp.accessToken(RESOURCE, "mcp:tools"); // never verified before: a real signature check
                    assertThat(initialize(gw, fresh).statusCode()).isEqualTo(200);
                    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("request " + i).isLessThan(Duration.ofMillis(800));
                }
                assertThat(pending.get()).as("the refresh was still in flight while those were served").isPositive();
                assertThat(unknownKid.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(401);
            } finally {
                jwks.disposeNow();
            }
        }
    }

    // --- the upstream ----------------------------------------------------------------------------

    private static final String EVENT = "id: e1\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
            + "\"params\":{\"progress\":1}}\n\n";

    private static DisposableServer scriptedUpstream() {
        return HttpServer.create().host("127.0.0.1").port(0)
                .route(r -> r
                        // one event, then the connection is reset (SO_LINGER 0: RST, not FIN)
                        .post("/sse-reset", (req, res) -> req.receive().then().then(res.header("Content-Type", "text/event-stream")
                                .sendString(Mono.just(EVENT)).then()
                                .then(Mono.delay(Duration.ofMillis(200)))
                                .then(Mono.<Void>fromRunnable(() -> res.withConnection(c -> {
                                    c.channel().config().setOption(ChannelOption.SO_LINGER, 0);
                                    c.channel().close();
                                })))))
                        // one event, then nothing, ever
                        .post("/sse-hang", (req, res) -> req.receive().then().thenMany(res.header("Content-Type", "text/event-stream")
                                .sendString(Flux.concat(Mono.just(EVENT), Mono.never()))))
                        .post("/silent", (req, res) -> Mono.never()))
                .bindNow();
    }

    private static GatewayHarness gatewayTo(TestIdp idp, String upstream) {
        return GatewayHarness.start(idp.issuer(), upstream, "response-timeout: 1s\nconnect-timeout: 1s", null);
    }

    @Test
    void upstreamResetMidSseStreamEndsTheClientStreamAndTheGaugeReturnsToBaseline() throws Exception {
        DisposableServer upstream = scriptedUpstream();
        try (TestIdp idp = TestIdp.start();
             GatewayHarness gw = gatewayTo(idp, "http://127.0.0.1:" + upstream.port() + "/sse-reset")) {
            double baseline = sseStreamsActive(gw);
            HttpResponse<InputStream> response = gw.http.send(gw.post(GatewayHarness.toolCall(1, "slow"))
                    .header("Authorization", "Bearer " + idp.accessToken(RESOURCE, "mcp:tools")).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertThat(response.statusCode()).isEqualTo(200);
            String received = readUntilEndOrError(response.body(), Duration.ofSeconds(5));
            assertThat(received).contains("id: e1");
            assertThat(received).as("the stream ended (cleanly or with an error), it did not hang").doesNotEndWith("<still open>");
            await("SSE gauge back to baseline", Duration.ofSeconds(5), () -> sseStreamsActive(gw) == baseline);
            // and the gateway serves the next request
            assertThat(gw.send(gw.post(GatewayHarness.toolCall(2, "x")).header("Authorization", "Bearer "
                    + idp.accessToken(RESOURCE, "mcp:tools")).build()).statusCode()).isEqualTo(200);
        } finally {
            upstream.disposeNow();
        }
    }

    @Test
    void aClientThatLeavesASilentStreamFreesIt() throws Exception {
        DisposableServer upstream = scriptedUpstream();
        try (TestIdp idp = TestIdp.start();
             GatewayHarness gw = gatewayTo(idp, "http://127.0.0.1:" + upstream.port() + "/sse-hang")) {
            double baseline = sseStreamsActive(gw);
            try (java.net.Socket socket = new java.net.Socket("127.0.0.1", gw.gateway.port())) {
                String body = GatewayHarness.toolCall(1, "slow");
                socket.getOutputStream().write(("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        + "Accept: application/json, text/event-stream\r\nAuthorization: Bearer " + idp.accessToken(RESOURCE, "mcp:tools")
                        + "\r\nContent-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                socket.setSoTimeout(5000);
                BufferedReader reader = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
                String line;
                while ((line = reader.readLine()) != null && !line.contains("id: e1")) {
                    // headers, chunk sizes
                }
                assertThat(line).contains("id: e1");
                await("stream counted", Duration.ofSeconds(2), () -> sseStreamsActive(gw) == baseline + 1);
            } // the client goes away while the upstream stays silent
            await("SSE gauge back to baseline after the client left", Duration.ofSeconds(5), () -> sseStreamsActive(gw) == baseline);
        } finally {
            upstream.disposeNow();
        }
    }

    @Test
    void upstreamDownAndSilentGetDefiniteAnswersAndLeakNothing() throws Exception {
        DisposableServer upstream = scriptedUpstream();
        int closedPort = GatewayHarness.freePort();
        try (TestIdp idp = TestIdp.start();
             GatewayHarness down = gatewayTo(idp, "http://127.0.0.1:" + closedPort + "/mcp");
             GatewayHarness silent = gatewayTo(idp, "http://127.0.0.1:" + upstream.port() + "/silent")) {
            for (int i = 0; i < 5; i++) {
                assertThat(down.send(down.post(GatewayHarness.toolCall(i, "x")).header("Authorization", "Bearer "
                        + idp.accessToken(RESOURCE, "mcp:tools")).build()).statusCode()).isEqualTo(502);
            }
            long start = System.nanoTime();
            CompletableFuture<?>[] calls = new CompletableFuture<?>[20];
            for (int i = 0; i < calls.length; i++) {
                calls[i] = silent.http.sendAsync(silent.post(GatewayHarness.toolCall(i, "x")).header("Authorization", "Bearer "
                        + idp.accessToken(RESOURCE, "mcp:tools")).build(), HttpResponse.BodyHandlers.ofString())
                        .thenAccept(r -> assertThat(r.statusCode()).isEqualTo(504));
            }
            CompletableFuture.allOf(calls).get(10, TimeUnit.SECONDS);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
            assertThat(sseStreamsActive(down)).isZero();
            assertThat(sseStreamsActive(silent)).isZero();
        } finally {
            upstream.disposeNow();
        }
    }

    private static String readUntilEndOrError(InputStream body, Duration within) throws Exception {
        StringBuilder received = new StringBuilder();
        CompletableFuture<String> read = CompletableFuture.supplyAsync(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    synchronized (received) {
                        received.append(line).append('\n');
                    }
                }
                return "<end>";
            } catch (IOException e) {
                return "<error: " + e.getClass().getSimpleName() + ">";
            }
        });
        try {
            String end = read.get(within.toMillis(), TimeUnit.MILLISECONDS);
            synchronized (received) {
                return received + end;
            }
        } catch (java.util.concurrent.TimeoutException e) {
            synchronized (received) {
                return received + "<still open>";
            }
        }
    }
}
